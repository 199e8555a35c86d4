"""Query parameters of GET /api/v1/cases/: incremental sync and the case list's filters."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cases.constants import CaseStatus, TraffickingPurpose
from cases.filters import FIRST_YEAR
from cases.models import CaseShare
from kernel.choices import Region


class AwareDateTimeField(serializers.DateTimeField):
    """An instant: ISO 8601 with its offset. A local time would be read in the server's time
    zone, and a sync would silently miss or repeat up to four hours of changes."""

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
            # In UTC: PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows.
            instant = None if parsed is None or timezone.is_naive(parsed) else parsed.astimezone(datetime.UTC)
        except (ValueError, OverflowError):  # out of range once moved to UTC (year 0 or 10000)
            instant = None
        if instant is None:
            raise serializers.ValidationError(
                _("Indique un instante ISO 8601 con zona horaria, por ejemplo 2024-05-01T00:00:00Z.")
            )
        return instant


class CaseSyncFilterSerializer(serializers.Serializer):
    updated_since = AwareDateTimeField(
        required=False,
        help_text=(
            "Solo causas modificadas, o compartidas con su institución, desde este instante "
            "(ISO 8601 con zona horaria)."
        ),
    )
    status = serializers.ChoiceField(choices=CaseStatus.choices, required=False)
    year = serializers.IntegerField(
        required=False, min_value=FIRST_YEAR, max_value=2100, help_text="Año de ingreso de la causa."
    )
    purpose = serializers.ChoiceField(choices=TraffickingPurpose.choices, required=False)
    region = serializers.ChoiceField(choices=Region.choices, required=False)
    formalised = serializers.BooleanField(required=False, allow_null=True, default=None)
    cursor = serializers.CharField(required=False, help_text="El valor de `next` de la página anterior.")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)

    def to_internal_value(self, data):
        # DRF skips an empty optional query parameter ("?year=") and ignores unknown ones
        # ("?updatedsince="): either would silently answer the whole list.
        errors = {name: [_("No puede estar vacío.")] for name in self.fields if name in data and data.get(name) == ""}
        errors |= {
            name: [_("Parámetro desconocido.")] for name in data if name not in self.fields and name not in ("format",)
        }
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def apply(self, cases: QuerySet, *, institution_id: int) -> QuerySet:
        values = self.validated_data
        if "updated_since" in values:
            since = values["updated_since"]
            shared_since = CaseShare.objects.filter(
                institution_id=institution_id, revoked_at__isnull=True, created_at__gte=since
            ).values("case_id")
            cases = cases.filter(Q(updated_at__gte=since) | Q(pk__in=shared_since))
        if "status" in values:
            cases = cases.filter(status=values["status"])
        if "year" in values:
            cases = cases.filter(intake_date__year=values["year"])
        if "purpose" in values:
            cases = cases.filter(purpose=values["purpose"])
        if "region" in values:
            cases = cases.filter(region_detected=values["region"])
        if values.get("formalised") is not None:
            cases = cases.filter(is_formalised=values["formalised"])
        return cases
