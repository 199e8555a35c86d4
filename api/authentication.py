"""Bearer tokens of machine clients (OAuth2 client credentials), acting as their service user."""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.oauth2_backends import OAuthLibCore, get_oauthlib_core


class _HeaderTokenCore(OAuthLibCore):
    """Reads the bearer token from the Authorization header only (RFC 6750 §2.1). DOT's core
    would read ``request.POST`` for a form-encoded token, and on a DRF request that parses the
    body: before the caller is known, an anonymous request would get 415 or 400 instead of 401,
    and cost a parse of up to the bulk limit."""

    def extract_body(self, request):
        return []


class ClientCredentialsAuthentication(OAuth2Authentication):
    """A client-credentials token has no user of its own: the request acts as the client's
    service user (api.models.ApiClient), so the institution's grants apply unchanged.

    A client whose service user was deactivated, or whose institution was, is refused even with
    an unexpired token: deactivating is how an administrator cuts a client off at once.
    """

    www_authenticate_realm = "api"

    def authenticate(self, request):
        if request is None:
            return None
        try:
            valid, r = _HeaderTokenCore(get_oauthlib_core().server).verify_request(request, scopes=[])
        except ValueError as error:
            if str(error) == "Invalid hex encoding in query string.":
                raise SuspiciousOperation(error) from error
            raise
        if not valid:
            request.oauth2_error = getattr(r, "oauth2_error", {})
            return None
        user, token = r.user, r.access_token
        if user is None:
            user = token.application.user
        if not user.is_active or user.institution_id is None or not user.institution.is_active:
            return None
        return user, token


def client_id_of(request) -> str:
    """The OAuth client a request came from ('' for a browser session): the access log names it."""
    application = getattr(request.auth, "application", None)
    return application.client_id if application is not None else ""
