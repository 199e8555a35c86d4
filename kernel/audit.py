"""The access log: append-only, hash-chained (kernel.models.AccessEvent).

``audit_record`` is called by the services that reveal identity, export, share, unshare,
change consents or decide access requests, inside their transaction: the event exists exactly
when the action happened. Appends are serialised by an advisory lock so each row can carry the
hash of the one before it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from kernel.models import AccessEvent

GENESIS_HASH = "0" * 64
_CHAIN_LOCK = 7_262_011  # pg_advisory_xact_lock key for appends to the chain


def _canonical(event: AccessEvent) -> bytes:
    record = {
        "id": event.id,
        "occurred_at": event.occurred_at.astimezone(datetime.UTC).isoformat(),
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "institution_id": event.institution_id,
        "client_id": event.client_id,
        "case_id": event.case_id,
        "victim_code": event.victim_code,
        "details": event.details,
        "rests_on_legal_basis": event.rests_on_legal_basis,
        "ip_address": event.ip_address,
        "previous_hash": event.previous_hash,
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: AccessEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def audit_record(
    action: str,
    *,
    actor=None,
    institution_id: int | None = None,
    client_id: str = "",
    case_id: int | None = None,
    victim_code: str = "",
    details: dict[str, Any] | None = None,
    rests_on_legal_basis: bool = False,
    ip_address: str | None = None,
) -> AccessEvent:
    """Append one event to the chain. ``details`` must never contain identity."""
    event = _event(action, actor, institution_id=institution_id, client_id=client_id, ip_address=ip_address)
    event.case_id, event.victim_code, event.details = case_id, victim_code, details or {}
    event.rests_on_legal_basis = rests_on_legal_basis
    return _append([event])[0]


def audit_record_many(
    action: str,
    *,
    actor,
    events: list[dict[str, Any]],
    client_id: str = "",
    ip_address: str | None = None,
) -> list[AccessEvent]:
    """Append several events of one act (e.g. revealing every victim of a case) under a single
    lock and insert: the chain is the same as if each had been recorded with audit_record.
    Each item of ``events`` holds the per-event fields: case_id, victim_code, details,
    rests_on_legal_basis."""
    records = []
    for fields in events:
        event = _event(action, actor, client_id=client_id, ip_address=ip_address)
        event.case_id, event.victim_code = fields.get("case_id"), fields.get("victim_code", "")
        event.details = fields.get("details") or {}
        event.rests_on_legal_basis = fields.get("rests_on_legal_basis", False)
        records.append(event)
    return _append(records) if records else []


def _event(action: str, actor, *, institution_id=None, client_id: str, ip_address: str | None) -> AccessEvent:
    """An unsaved event with who did it: the actor (if signed in) and their institution."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_id, username = actor.pk, actor.get_username()
        if institution_id is None:
            institution_id = actor.institution_id
    else:
        actor_id, username = None, ""
    return AccessEvent(
        action=action,
        actor_id=actor_id,
        actor_username=username,
        institution_id=institution_id,
        client_id=client_id,
        ip_address=ip_address,
    )


def _append(events: list[AccessEvent]) -> list[AccessEvent]:
    """Chain and insert ``events``, in order, under the chain's lock: each gets the next id,
    the hash of the event before it, and its own hash."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('kernel_accessevent', 'id')) FROM generate_series(1, %s)",
            [len(events)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        previous = AccessEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS_HASH
        occurred_at = timezone.now()
        for event_id, event in zip(ids, events, strict=True):
            event.id, event.occurred_at, event.previous_hash = event_id, occurred_at, previous
            event.hash = previous = event_hash(event)
        AccessEvent.objects.bulk_create(events)
    return events


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def audit_verify(*, batch_size: int = 5000) -> tuple[int, ChainBreak | None]:
    """Recompute the chain in order. Returns (events checked, first break or None)."""
    checked, previous = 0, GENESIS_HASH
    for event in _events_in_order(batch_size):
        if event.previous_hash != previous:
            return checked, ChainBreak(
                event.id, "does not point to the previous event (a row was removed or reordered)"
            )
        if event_hash(event) != event.hash:
            return checked, ChainBreak(event.id, "its content does not match its hash (the row was altered)")
        previous = event.hash
        checked += 1
    return checked, None


def _events_in_order(batch_size: int) -> Iterator[AccessEvent]:
    last_id = None
    while True:
        page = AccessEvent.objects.order_by("id")
        if last_id is not None:
            page = page.filter(id__gt=last_id)
        events = list(page[:batch_size])
        if not events:
            return
        yield from events
        last_id = events[-1].id
