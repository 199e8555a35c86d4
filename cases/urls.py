from django.urls import path

from cases import views

app_name = "cases"

urlpatterns = [
    path("causas/", views.case_list_view, name="list"),
    path("causas/<int:case_id>/", views.case_detail_view, name="detail"),
    path("causas/<int:case_id>/compartir/", views.case_share_view, name="share"),
    path("causas/<int:case_id>/compartir/<int:share_id>/revocar/", views.case_unshare_view, name="unshare"),
    path("causas/<int:case_id>/accesos/", views.case_access_log_view, name="access_log"),
    path(
        "causas/<int:case_id>/imputados/<uuid:offender_id>/identidad/",
        views.offender_identity_view,
        name="offender_identity",
    ),
    path("solicitudes/", views.access_request_list_view, name="access_requests"),
    path("solicitudes/<int:request_id>/resolver/", views.access_request_decide_view, name="access_request_decide"),
]
