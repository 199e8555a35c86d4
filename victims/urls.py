from django.urls import path

from victims import views

app_name = "victims"

urlpatterns = [
    path("victimas/duplicados/", views.duplicate_check_view, name="duplicate_check"),
    path("victimas/<uuid:victim_id>/", views.victim_detail_view, name="detail"),
    path("victimas/<uuid:victim_id>/identidad/", views.victim_identity_view, name="identity"),
    path("victimas/<uuid:victim_id>/consentimientos/", views.consent_record_view, name="consent_record"),
    path(
        "victimas/<uuid:victim_id>/consentimientos/<int:consent_id>/retirar/",
        views.consent_withdraw_view,
        name="consent_withdraw",
    ),
    path("solicitudes/nueva/", views.access_request_create_view, name="access_request_create"),
]
