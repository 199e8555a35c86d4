"""/o/: the OAuth2 token endpoints machine clients use. Only these two: there is no browser
authorisation flow and no self-service application management (ADR 0005)."""

from django.urls import path
from oauth2_provider import views

app_name = "oauth2_provider"

urlpatterns = [
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
]
