"""What the statistics issue reads of the protocol: entries counted in PostgreSQL, never a
Python loop over records, and never identity.

A protocol *entry* is an activation that reached *activa* (the MITP counts people who entered
the protocol), in the year it was requested. The purpose is the victim's, from their case
links (the most frequent known one); a victim with no case, or only unknown purposes, counts
as "sin información".
"""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import ExtractYear

from cases.constants import TraffickingPurpose
from protocol.constants import ActivationState
from protocol.models import ProtocolActivation, ProtocolTransition
from victims.models import CaseVictim

ENTERED = ProtocolTransition.objects.filter(activation=OuterRef("pk"), to_state=ActivationState.ACTIVE)


def protocol_entries(*, year_from: int, year_to: int) -> QuerySet[ProtocolActivation]:
    """Activations that entered the protocol, requested within the years (inclusive)."""
    return ProtocolActivation.objects.filter(
        Exists(ENTERED), requested_on__year__gte=year_from, requested_on__year__lte=year_to
    )


def _victim_purpose():
    known = (
        CaseVictim.objects.filter(victim_id=OuterRef("victim_id"))
        .exclude(purpose=TraffickingPurpose.UNKNOWN)
        .values("purpose")
        .annotate(n=Count("pk"))
        .order_by("-n", "purpose")
        .values("purpose")[:1]
    )
    return Subquery(known)


def protocol_entries_by(*, year_from: int, year_to: int) -> list[dict]:
    """Rows of {year, purpose, sex, nationality, entries}: one row per combination present.
    Unknown purpose, sex and nationality are their own values, never dropped."""
    rows = (
        protocol_entries(year_from=year_from, year_to=year_to)
        .annotate(year=ExtractYear("requested_on"), purpose=_victim_purpose())
        .values("year", "purpose", "victim__sex", "victim__nationality")
        .annotate(entries=Count("pk"))
        .order_by("year", "purpose", "victim__sex", "victim__nationality")
    )
    table = [
        {
            "year": row["year"],
            "purpose": row["purpose"] or TraffickingPurpose.UNKNOWN,
            "sex": row["victim__sex"],
            "nationality": row["victim__nationality"] or "",
            "entries": row["entries"],
        }
        for row in rows
    ]
    # Ordered once the unknown purpose has its name (the database sorts NULL last).
    return sorted(table, key=lambda row: (row["year"], row["purpose"], row["sex"], row["nationality"]))
