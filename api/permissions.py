"""Scopes per HTTP method. A bearer token must carry them; a browser session is limited by its
user's role and institution alone (the selectors and services check those for both)."""

from __future__ import annotations

from oauth2_provider.contrib.rest_framework import TokenMatchesOASRequirements


class TokenHasMethodScopes(TokenMatchesOASRequirements):
    """``view.required_alternate_scopes = {"GET": [["cases:read"]], "PUT": [["cases:write"]]}``
    (also what drf-spectacular writes into each operation's ``security``)."""

    def has_permission(self, request, view):
        if request.auth is None:
            return bool(request.user and request.user.is_authenticated)
        method = request.method.upper()
        if method == "OPTIONS" or not hasattr(view, method.lower()):
            return True  # nothing to read or write: DRF answers 405 (or the OPTIONS description)
        return super().has_permission(request, view)

    def get_required_alternate_scopes(self, request, view):
        scopes = super().get_required_alternate_scopes(request, view)
        return {"HEAD": scopes.get("GET", []), **scopes}
