from django.urls import path

from protocol import views

app_name = "protocol"

urlpatterns = [
    path("protocolo/", views.activation_list_view, name="activations"),
    path("protocolo/nueva-persona/", views.new_person_view, name="new_person"),
    path("victimas/<uuid:victim_id>/protocolo/", views.victim_protocol_view, name="victim_protocol"),
    path("victimas/<uuid:victim_id>/protocolo/activar/", views.activation_open_view, name="activation_open"),
    path("victimas/<uuid:victim_id>/residencia/derivar/", views.residence_derive_view, name="residence_derive"),
    path("protocolo/<uuid:activation_id>/transicion/", views.activation_transition_view, name="activation_transition"),
    path("protocolo/<uuid:activation_id>/consentimiento/", views.activation_consent_view, name="activation_consent"),
    path("protocolo/<uuid:activation_id>/solicitante/", views.activation_requester_view, name="activation_requester"),
    path("protocolo/<uuid:activation_id>/derivar/", views.referral_create_view, name="referral_create"),
    path("derivaciones/", views.referral_inbox_view, name="referral_inbox"),
    path("derivaciones/<uuid:referral_id>/", views.referral_detail_view, name="referral_detail"),
    path("derivaciones/<uuid:referral_id>/transicion/", views.referral_transition_view, name="referral_transition"),
    path("derivaciones/<uuid:referral_id>/persona/", views.referral_person_view, name="referral_person"),
    path("residencia/", views.residence_queue_view, name="residence_queue"),
    path("residencia/<uuid:application_id>/", views.residence_detail_view, name="residence_detail"),
    path("residencia/<uuid:application_id>/transicion/", views.residence_transition_view, name="residence_transition"),
    path("residencia/<uuid:application_id>/identidad/", views.residence_identity_view, name="residence_identity"),
    path("notificaciones/", views.notification_list_view, name="notifications"),
]
