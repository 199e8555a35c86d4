from django.urls import path

from victims import form_views, views

app_name = "victims"

urlpatterns = [
    path("victimas/duplicados/", views.duplicate_check_view, name="duplicate_check"),
    path("causas/<int:case_id>/victimas/nueva/", form_views.victim_create_view, name="create"),
    path("causas/<int:case_id>/victimas/nueva/aviso/", form_views.duplicate_warning_view, name="duplicate_warning"),
    path("causas/<int:case_id>/victimas/<uuid:victim_id>/vincular/", form_views.victim_link_view, name="link"),
    path("causas/<int:case_id>/victimas/<uuid:victim_id>/editar/", form_views.victim_edit_view, name="edit"),
    path("victimas/<uuid:victim_id>/", views.victim_detail_view, name="detail"),
    path("victimas/<uuid:victim_id>/identidad/", views.victim_identity_view, name="identity"),
    path("victimas/<uuid:victim_id>/consentimientos/", views.consent_record_view, name="consent_record"),
    path(
        "victimas/<uuid:victim_id>/consentimientos/<int:consent_id>/retirar/",
        views.consent_withdraw_view,
        name="consent_withdraw",
    ),
    path("victimas/<uuid:victim_id>/compartir/", views.victim_share_view, name="share"),
    path("victimas/<uuid:victim_id>/compartir/<int:share_id>/revocar/", views.victim_unshare_view, name="unshare"),
    path("solicitudes/nueva/", views.access_request_create_view, name="access_request_create"),
]
