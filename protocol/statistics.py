"""What the statistics issue reads of the protocol: entries counted in PostgreSQL, never a
Python loop over records, and never identity.

A protocol *entry* is an activation that reached *activa*, in the year of its request
(``requested_on``: the date the officer records, which can be historical; the transition's
timestamp is only when it was typed in). The MITP counts **people** who entered the protocol, so
each row says how many entries it holds and how many of them are a person's **first** entry in
the range (the earliest by request date, then by when it was recorded): summing ``persons``
counts each person once, in the year of their first entry; summing ``entries`` counts
re-entries too. The purpose is the victim's, from their case links (the most frequent known
one, a link of unknown purpose taking its case's); a victim with no case, or only unknown
purposes, counts as "sin información".
"""

from __future__ import annotations

import datetime

from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import ExtractYear

from cases.constants import TraffickingPurpose
from protocol.constants import ActivationState
from protocol.models import ProtocolActivation, ProtocolTransition
from victims.models import CaseVictim

ENTERED = ProtocolTransition.objects.filter(activation=OuterRef("pk"), to_state=ActivationState.ACTIVE)


def protocol_entries(*, year_from: int, year_to: int) -> QuerySet[ProtocolActivation]:
    """Activations that entered the protocol, requested within the years (inclusive)."""
    return ProtocolActivation.objects.filter(
        Exists(ENTERED),
        requested_on__gte=datetime.date(year_from, 1, 1),
        requested_on__lte=datetime.date(year_to, 12, 31),
    )


def _earlier_entry(entries: QuerySet[ProtocolActivation]) -> Exists:
    """True when the same person has an earlier entry among ``entries`` (request date, then
    when it was recorded, then id: a total order, so exactly one entry per person is first)."""
    outer = OuterRef
    earlier = entries.filter(victim_id=outer("victim_id")).filter(
        Q(requested_on__lt=outer("requested_on"))
        | Q(requested_on=outer("requested_on"), created_at__lt=outer("created_at"))
        | Q(requested_on=outer("requested_on"), created_at=outer("created_at"), pk__lt=outer("pk"))
    )
    return Exists(earlier)


def _victim_purpose():
    """The person's most frequent known purpose over their case links; a link that says "sin
    información" takes its case's purpose, as in the victim tables (stats.populations)."""
    link_purpose = Case(
        When(purpose=TraffickingPurpose.UNKNOWN, then=F("case__purpose")),
        default=F("purpose"),
        output_field=CharField(),
    )
    known = (
        CaseVictim.objects.filter(victim_id=OuterRef("victim_id"))
        .annotate(link_purpose=link_purpose)
        .exclude(link_purpose=TraffickingPurpose.UNKNOWN)
        .values("link_purpose")
        .annotate(n=Count("pk"))
        .order_by("-n", "link_purpose")
        .values("link_purpose")[:1]
    )
    return Subquery(known)


def protocol_entries_by(*, year_from: int, year_to: int) -> list[dict]:
    """Rows of {year, purpose, sex, nationality, entries, persons}: one row per combination
    present. ``persons`` counts the entries that are the person's first in the range. Unknown
    purpose, sex and nationality are their own values, never dropped."""
    entries = protocol_entries(year_from=year_from, year_to=year_to)
    rows = (
        entries.annotate(year=ExtractYear("requested_on"), purpose=_victim_purpose())
        .values("year", "purpose", "victim__sex", "victim__nationality")
        .annotate(entries=Count("pk"), persons=Count("pk", filter=~_earlier_entry(entries)))
        .order_by()
    )
    table = [
        {
            "year": row["year"],
            "purpose": row["purpose"] or TraffickingPurpose.UNKNOWN,
            "sex": row["victim__sex"],
            "nationality": row["victim__nationality"] or "",
            "entries": row["entries"],
            "persons": row["persons"],
        }
        for row in rows
    ]
    # Ordered once the unknown purpose has its name (the database sorts NULL last).
    return sorted(table, key=lambda row: (row["year"], row["purpose"], row["sex"], row["nationality"]))
