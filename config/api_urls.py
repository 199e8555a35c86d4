"""/api/v1/: the REST API (cases/apis.py, protocol/apis.py), its OpenAPI schema and the reference
page."""

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView

from api.views import ApiDocsView
from cases import apis
from cases.constants import EXTERNAL_ID_PATTERN, SyncSource
from protocol import apis as protocol_apis

app_name = "api"


class SourceConverter:
    regex = "|".join(SyncSource.values)

    def to_python(self, value: str) -> str:
        return value

    to_url = to_python


class ReferenceConverter(SourceConverter):
    regex = EXTERNAL_ID_PATTERN.strip("^$")


register_converter(SourceConverter, "source")
register_converter(ReferenceConverter, "reference")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsView.as_view(url_name="api:schema"), name="docs"),
    path("cases/", apis.CaseListApi.as_view(), name="case_list"),
    path("cases/bulk", apis.CaseBulkApi.as_view(), name="case_bulk"),
    path("cases/by-ref/<source:source>/<reference:reference>", apis.CaseByReferenceApi.as_view(), name="case_by_ref"),
    path("cases/<int:case_id>/", apis.CaseDetailApi.as_view(), name="case_detail"),
    path("cases/<int:case_id>/victims/", apis.CaseVictimsApi.as_view(), name="case_victims"),
    path("cases/<int:case_id>/offenders/", apis.CaseOffendersApi.as_view(), name="case_offenders"),
    path(
        "cases/<int:case_id>/offenders/<uuid:offender_id>/identity/",
        apis.OffenderIdentityApi.as_view(),
        name="offender_identity",
    ),
    path("cases/<int:case_id>/shares/", apis.CaseSharesApi.as_view(), name="case_shares"),
    path("victims/<uuid:victim_id>/", apis.VictimDetailApi.as_view(), name="victim_detail"),
    path("victims/<uuid:victim_id>/identity/", apis.VictimIdentityApi.as_view(), name="victim_identity"),
    path("institutions/", apis.InstitutionListApi.as_view(), name="institution_list"),
    # Protocolo de Atención (issue 6)
    path(
        "victims/<uuid:victim_id>/activations/",
        protocol_apis.VictimActivationsApi.as_view(),
        name="victim_activations",
    ),
    path("activations/<uuid:activation_id>/", protocol_apis.ActivationDetailApi.as_view(), name="activation_detail"),
    path(
        "activations/<uuid:activation_id>/transitions",
        protocol_apis.ActivationTransitionsApi.as_view(),
        name="activation_transitions",
    ),
    path(
        "activations/<uuid:activation_id>/consent",
        protocol_apis.ActivationConsentApi.as_view(),
        name="activation_consent",
    ),
    path(
        "activations/<uuid:activation_id>/referrals/",
        protocol_apis.ActivationReferralsApi.as_view(),
        name="activation_referrals",
    ),
    path("referrals/", protocol_apis.ReferralListApi.as_view(), name="referral_list"),
    path("referrals/<uuid:referral_id>/", protocol_apis.ReferralDetailApi.as_view(), name="referral_detail"),
    path(
        "referrals/<uuid:referral_id>/transitions",
        protocol_apis.ReferralTransitionsApi.as_view(),
        name="referral_transitions",
    ),
    path("referrals/<uuid:referral_id>/victim/", protocol_apis.ReferralVictimApi.as_view(), name="referral_victim"),
    path(
        "victims/<uuid:victim_id>/residence-applications/",
        protocol_apis.VictimResidenceApplicationsApi.as_view(),
        name="victim_residence_applications",
    ),
    path("residence-applications/", protocol_apis.ResidenceListApi.as_view(), name="residence_list"),
    path(
        "residence-applications/<uuid:application_id>/",
        protocol_apis.ResidenceDetailApi.as_view(),
        name="residence_detail",
    ),
    path(
        "residence-applications/<uuid:application_id>/transitions",
        protocol_apis.ResidenceTransitionsApi.as_view(),
        name="residence_transitions",
    ),
    path(
        "residence-applications/<uuid:application_id>/identity/",
        protocol_apis.ResidenceIdentityApi.as_view(),
        name="residence_identity",
    ),
]
