"""Computing a statistics snapshot once per parameters and data (the Celery task's service).

Two runs for the same parameters serialise on a transaction-scoped advisory lock; the second
then finds the first's snapshot (same parameters key, same data fingerprint) and returns it, and
the unique constraint backs that up. The fingerprint covers exactly the columns the tables read,
so an unrelated change (an identity correction, a note) makes no new snapshot, and any change to
a counted value, a new record or a deleted one does.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable

from django.contrib.postgres.aggregates import StringAgg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Func, TextField, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, CaseOffender, Offender
from institutions.models import User
from protocol.models import ProtocolActivation, ProtocolTransition
from stats.models import SnapshotKind, StatisticsSnapshot
from stats.registers import REGISTERS
from stats.tables import DEFINITION_VERSION, compute_tables
from victims.models import CaseVictim, Victim

# The statistical columns each table family reads (never an identity column).
FINGERPRINTED: tuple[tuple[type, tuple[str, ...]], ...] = (
    (
        Case,
        (
            "id",
            "intake_date",
            "investigation_start_date",
            "is_formalised",
            "formalised_date",
            "status",
            "termination_type",
            "purpose",
            "region_detected",
            "fiscalia_regional",
        ),
    ),
    (
        CaseVictim,
        ("id", "case_id", "victim_id", "age_status", "age_at_facts", "purpose", "region_detected", "identified_date"),
    ),
    (Victim, ("id", "sex", "nationality", "birth_year", "age_at_identification")),
    (CaseOffender, ("id", "case_id", "offender_id", "is_formalised", "is_convicted")),
    (Offender, ("id", "sex", "nationality")),
    # created_at: the tie-break between two entries of a person requested the same day.
    (ProtocolActivation, ("id", "victim_id", "requested_on", "created_at", "state")),
    (ProtocolTransition, ("id", "activation_id", "to_state")),
)

MIN_YEAR, MAX_YEAR = 1990, 2100


def normalised_parameters(*, year_from: int, year_to: int, registers: Iterable[str] | None) -> tuple[int, int, list]:
    """Checked and canonical (registers sorted, unique): ValidationError in Spanish otherwise."""
    registers = sorted(set(registers or REGISTERS))
    errors = {}
    if not (MIN_YEAR <= year_from <= MAX_YEAR):
        errors["year_from"] = [_("Indique un año entre %(min)s y %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR}]
    if not (MIN_YEAR <= year_to <= MAX_YEAR):
        errors["year_to"] = [_("Indique un año entre %(min)s y %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR}]
    elif not errors and year_to < year_from:
        errors["year_to"] = [_("El año final no puede ser anterior al inicial.")]
    unknown = [register for register in registers if register not in REGISTERS]
    if unknown:
        errors["registers"] = [_("Registro desconocido: %(names)s.") % {"names": ", ".join(unknown)}]
    if errors:
        raise ValidationError(errors)
    return year_from, year_to, registers


def parameters_key(*, year_from: int, year_to: int, registers: list[str]) -> str:
    payload = json.dumps([year_from, year_to, registers, str(DEFINITION_VERSION)], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def data_fingerprint() -> str:
    """md5, in PostgreSQL, of every fingerprinted row's statistical columns in id order, per
    table; then sha256 over the per-table digests and row counts. One query per table."""
    parts = []
    for model, columns in FINGERPRINTED:
        row = Concat(
            *[
                part
                for column in columns
                for part in (
                    Coalesce(Cast(F(column), TextField()), Value("∅", output_field=TextField())),
                    Value("|", output_field=TextField()),
                )
            ],
            output_field=TextField(),
        )
        result = model.objects.aggregate(
            rows=Count("pk"),
            digest=Func(
                StringAgg(row, delimiter=Value("\n"), order_by="id", output_field=TextField()),
                function="md5",
                output_field=TextField(),
            ),
        )
        parts.append(f"{model._meta.label}:{result['rows']}:{result['digest'] or ''}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def snapshot_compute(
    *,
    year_from: int,
    year_to: int,
    registers: Iterable[str] | None = None,
    kind: str = SnapshotKind.REQUESTED,
    requested_by: User | None = None,
) -> tuple[StatisticsSnapshot, bool]:
    """The snapshot for these parameters over the data as it is now: (snapshot, created). An
    existing one for the same parameters and data is returned (and confirmed current), not
    computed again.

    Two runs for the same parameters serialise on an advisory lock taken *before* the transaction
    that reads: the fingerprint and every table are then read in one REPEATABLE READ transaction,
    so the snapshot's tables are exactly the data its fingerprint describes, even while officers
    keep writing; and the second run, whose transaction starts after the first committed, finds
    the first's snapshot. Called inside a caller's transaction (tests), the isolation level can no
    longer be chosen: the lock is then held to the caller's commit and the reads are READ COMMITTED.
    """
    year_from, year_to, registers = normalised_parameters(year_from=year_from, year_to=year_to, registers=registers)
    key = parameters_key(year_from=year_from, year_to=year_to, registers=registers)
    lock = f"stats-snapshot:{key}"
    arguments = {"year_from": year_from, "year_to": year_to, "registers": registers, "kind": kind}
    if connection.in_atomic_block:
        with transaction.atomic():
            _advisory("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", lock)
            return _compute_or_find(key, requested_by=requested_by, **arguments)
    _advisory("SELECT pg_advisory_lock(hashtextextended(%s, 0))", lock)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return _compute_or_find(key, requested_by=requested_by, **arguments)
    finally:
        _advisory("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", lock)


def _advisory(statement: str, lock: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, [lock])


def _compute_or_find(
    key: str, *, year_from: int, year_to: int, registers: list[str], kind: str, requested_by: User | None
) -> tuple[StatisticsSnapshot, bool]:
    fingerprint = data_fingerprint()
    existing = StatisticsSnapshot.objects.filter(parameters_key=key, data_fingerprint=fingerprint).first()
    if existing is not None:
        existing.confirmed_at = timezone.now()
        existing.save(update_fields=["confirmed_at"])
        return existing, False
    started = time.monotonic()
    tables = compute_tables(year_from=year_from, year_to=year_to, registers=registers)
    snapshot = StatisticsSnapshot.objects.create(
        year_from=year_from,
        year_to=year_to,
        registers=registers,
        definition_version=str(DEFINITION_VERSION),
        parameters_key=key,
        data_fingerprint=fingerprint,
        kind=kind,
        requested_by=requested_by,
        computation_ms=int((time.monotonic() - started) * 1000),
        tables=[table.as_dict() for table in tables],
    )
    return snapshot, True
