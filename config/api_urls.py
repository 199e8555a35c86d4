"""/api/v1/: the REST API (cases/apis.py), its OpenAPI schema and the reference page."""

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView

from api.views import ApiDocsView
from cases import apis
from cases.constants import EXTERNAL_ID_PATTERN, SyncSource

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
]
