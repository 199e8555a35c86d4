"""The base of every /api/v1/ view: who may call (bearer token with scopes, or a browser
session), how often, with how large a body, and that nothing stores the answer."""

from __future__ import annotations

import pghistory

from api.authentication import client_id_of
from api.scopes import CASES_READ, CASES_WRITE
from kernel.api import ConfidentialApiView
from kernel.api_errors import RequestTooLarge

ONE_MIB = 1024 * 1024


class ApiView(ConfidentialApiView):
    # Scopes per method (api.permissions.TokenHasMethodScopes); views override where needed.
    # A write answers with the record written, so it needs the read scope too.
    required_alternate_scopes = {
        "GET": [[CASES_READ]],
        "POST": [[CASES_READ, CASES_WRITE]],
        "PUT": [[CASES_READ, CASES_WRITE]],
        "PATCH": [[CASES_READ, CASES_WRITE]],
    }
    max_body_bytes = ONE_MIB

    def initial(self, request, *args, **kwargs):
        # Before authentication: a body too large is refused before anything reads it.
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            raise RequestTooLarge()
        super().initial(request, *args, **kwargs)
        if request.auth is not None:
            # Authenticated by token only now, after the middleware opened the change-history
            # context without a user: history rows of this request name the client's user.
            pghistory.context(
                user=request.user.pk, institution=request.user.institution_id, api_client=client_id_of(request)
            )
