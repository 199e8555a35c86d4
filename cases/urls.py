from django.urls import path

from cases import form_views, views

app_name = "cases"

urlpatterns = [
    path("causas/", views.case_list_view, name="list"),
    path("causas/nueva/", form_views.case_create_view, name="create"),
    path("causas/<int:case_id>/", views.case_detail_view, name="detail"),
    path("causas/<int:case_id>/editar/", form_views.case_edit_view, name="edit"),
    path("causas/<int:case_id>/imputados/nuevo/", form_views.offender_create_view, name="offender_create"),
    path(
        "causas/<int:case_id>/imputados/<uuid:offender_id>/editar/",
        form_views.offender_edit_view,
        name="offender_edit",
    ),
    path("causas/<int:case_id>/victimas/", views.case_victims_view, name="victims"),
    path("causas/<int:case_id>/victimas/identidad/", views.case_victims_identity_view, name="victims_identity"),
    path("causas/<int:case_id>/imputados/", views.case_offenders_view, name="offenders"),
    path("causas/<int:case_id>/historial/", views.case_history_view, name="history"),
    path("causas/<int:case_id>/compartir/", views.case_share_view, name="share"),
    path("causas/<int:case_id>/compartir/<int:share_id>/revocar/", views.case_unshare_view, name="unshare"),
    path(
        "causas/<int:case_id>/imputados/<uuid:offender_id>/identidad/",
        views.offender_identity_view,
        name="offender_identity",
    ),
    path("solicitudes/", views.access_request_list_view, name="access_requests"),
    path("solicitudes/<int:request_id>/resolver/", views.access_request_decide_view, name="access_request_decide"),
]
