"""Query parameters of GET /api/v1/cases/: incremental sync and the case list's filters."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cases.constants import CaseStatus, TraffickingPurpose
from cases.filters import FIRST_YEAR
from kernel.choices import Region


class CaseSyncFilterSerializer(serializers.Serializer):
    updated_since = serializers.DateTimeField(
        required=False, help_text="Solo causas modificadas desde este instante (ISO 8601 con zona horaria)."
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

    def validate_updated_since(self, value):
        if timezone.is_naive(value):
            raise serializers.ValidationError(_("Indique la zona horaria (por ejemplo 2024-05-01T00:00:00Z)."))
        return value

    def apply(self, cases: QuerySet) -> QuerySet:
        values = self.validated_data
        if "updated_since" in values:
            cases = cases.filter(updated_at__gte=values["updated_since"])
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
