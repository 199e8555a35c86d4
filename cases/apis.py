"""REST API v1 (read side for now; issue 5 adds machine clients, writes and the schema).

The same selectors as the web pages decide visibility: 404 for what the institution may not
see, 403 for what it may see but not do; identity only through the audited reveal.
"""

from __future__ import annotations

from functools import partial

from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from cases.models import Case, CaseShare
from cases.selectors import LIST_ORDER, KnownCountPaginator, case_get, case_list, case_list_count, case_shares
from kernel.api import ConfidentialApiView
from kernel.client_ip import client_ip
from victims.identity import victim_identity_reveal
from victims.models import CaseVictim, Victim
from victims.selectors import case_victims, victim_get


class CaseSerializer(serializers.ModelSerializer):
    lead_institution = serializers.CharField(source="lead_institution.short_name")

    class Meta:
        model = Case
        fields = [
            "id", "ruc", "intake_date", "investigation_start_date", "is_formalised", "formalised_date", "status",
            "termination_type", "termination_date", "purpose", "region_detected", "fiscalia_regional",
            "lead_institution", "version", "created_at", "updated_at",
        ]  # fmt: skip


class VictimSerializer(serializers.ModelSerializer):
    nationality = serializers.CharField(source="nationality.code")

    class Meta:
        model = Victim
        fields = ["id", "code", "sex", "nationality", "birth_year", "age_at_identification"]


class CaseVictimSerializer(serializers.ModelSerializer):
    victim = VictimSerializer()

    class Meta:
        model = CaseVictim
        fields = ["victim", "age_status", "age_at_facts", "is_minor", "purpose", "region_detected", "identified_date"]


class CaseShareSerializer(serializers.ModelSerializer):
    institution = serializers.CharField(source="institution.short_name")

    class Meta:
        model = CaseShare
        fields = ["id", "institution", "can_view_identity", "can_collaborate", "reason", "created_at", "revoked_at"]


class CasePagination(PageNumberPagination):
    page_size = 25


class CaseListApi(ConfidentialApiView):
    def get(self, request):
        paginator = CasePagination()
        paginator.django_paginator_class = partial(KnownCountPaginator, count=case_list_count(user=request.user))
        page = paginator.paginate_queryset(case_list(user=request.user).order_by(*LIST_ORDER), request)
        return paginator.get_paginated_response(CaseSerializer(page, many=True).data)


class CaseDetailApi(ConfidentialApiView):
    def get(self, request, case_id: int):
        return Response(CaseSerializer(case_get(user=request.user, case_id=case_id)).data)


class CaseVictimsApi(ConfidentialApiView):
    def get(self, request, case_id: int):
        case = case_get(user=request.user, case_id=case_id)
        return Response(CaseVictimSerializer(case_victims(user=request.user, case_id=case.pk), many=True).data)


class CaseSharesApi(ConfidentialApiView):
    def get(self, request, case_id: int):
        return Response(CaseShareSerializer(case_shares(user=request.user, case_id=case_id), many=True).data)


class VictimDetailApi(ConfidentialApiView):
    def get(self, request, victim_id):
        return Response(VictimSerializer(victim_get(user=request.user, victim_id=victim_id)).data)


class VictimIdentityApi(ConfidentialApiView):
    """GET the decrypted identity: audited like a browser reveal."""

    def get(self, request, victim_id):
        identity = victim_identity_reveal(user=request.user, victim_id=victim_id, ip_address=client_ip(request))
        if identity.get("birth_date"):
            identity["birth_date"] = identity["birth_date"].isoformat()
        return Response(identity)
