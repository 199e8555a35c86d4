from django.urls import path

from cases import apis

app_name = "api"

urlpatterns = [
    path("cases/", apis.CaseListApi.as_view(), name="case_list"),
    path("cases/<int:case_id>/", apis.CaseDetailApi.as_view(), name="case_detail"),
    path("cases/<int:case_id>/victims/", apis.CaseVictimsApi.as_view(), name="case_victims"),
    path("cases/<int:case_id>/shares/", apis.CaseSharesApi.as_view(), name="case_shares"),
    path("victims/<uuid:victim_id>/", apis.VictimDetailApi.as_view(), name="victim_detail"),
    path("victims/<uuid:victim_id>/identity/", apis.VictimIdentityApi.as_view(), name="victim_identity"),
]
