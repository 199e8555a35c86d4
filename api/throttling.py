"""Rate limits per OAuth client (a browser session: per user), kept in the shared Redis cache."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle


class ClientRateThrottle(SimpleRateThrottle):
    scope = "client"

    def get_cache_key(self, request, view):
        application_id = getattr(request.auth, "application_id", None)
        if application_id is not None:
            ident = f"client-{application_id}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class BulkRateThrottle(ClientRateThrottle):
    """Bulk requests carry up to 500 cases each: their own, smaller budget."""

    scope = "bulk"
