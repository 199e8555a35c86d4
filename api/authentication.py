"""Bearer tokens of machine clients (OAuth2 client credentials), acting as their service user."""

from __future__ import annotations

from oauth2_provider.contrib.rest_framework import OAuth2Authentication


class ClientCredentialsAuthentication(OAuth2Authentication):
    """A client-credentials token has no user of its own: the request acts as the client's
    service user (api.models.ApiClient), so the institution's grants apply unchanged.

    A client whose service user was deactivated, or whose institution was, is refused even with
    an unexpired token: deactivating is how an administrator cuts a client off at once.
    """

    www_authenticate_realm = "api"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        if user is None:
            user = token.application.user
        if not user.is_active or user.institution_id is None or not user.institution.is_active:
            return None
        return user, token


def client_id_of(request) -> str:
    """The OAuth client a request came from ('' for a browser session): the access log names it."""
    application = getattr(request.auth, "application", None)
    return application.client_id if application is not None else ""
