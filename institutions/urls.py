from django.urls import path

from institutions import account_views, views

app_name = "institutions"

urlpatterns = [
    path("institucion/usuarios/", views.user_list_view, name="user_list"),
    path("institucion/usuarios/invitar/", views.user_invite_view, name="user_invite"),
    path("institucion/usuarios/<int:user_id>/", views.user_detail_view, name="user_detail"),
    path("institucion/usuarios/<int:user_id>/rol/", views.user_role_view, name="user_role"),
    path("institucion/usuarios/<int:user_id>/desactivar/", views.user_deactivate_view, name="user_deactivate"),
    path("institucion/usuarios/<int:user_id>/reactivar/", views.user_reactivate_view, name="user_reactivate"),
    path(
        "institucion/usuarios/<int:user_id>/segundo-factor/",
        views.user_two_factor_reset_view,
        name="user_two_factor_reset",
    ),
    path("institucion/usuarios/<int:user_id>/desbloquear/", views.user_unlock_view, name="user_unlock"),
    path(
        "institucion/usuarios/<int:user_id>/reenviar-invitacion/",
        views.user_invitation_resend_view,
        name="user_invitation_resend",
    ),
    path("cuenta/clave/", account_views.PasswordChangeView.as_view(), name="password_change"),
    path("cuenta/activar/listo/", account_views.AccountActivatedView.as_view(), name="account_activated"),
    path("cuenta/activar/<uidb64>/<token>/", account_views.AccountActivateView.as_view(), name="account_activate"),
]
