"""Rate limits per OAuth client (a browser session: per user), kept in the shared Redis cache.

Counted with Redis' atomic INCR in fixed windows: DRF's own throttle reads the history, then
writes it back, so parallel requests overwrite each other's counts and a client could exceed its
limit by far (measured: 17-29 of 10 allowed under 40 parallel requests).
"""

from __future__ import annotations

from django.core.cache import cache
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

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = int(self.timer())
        window_start = now - now % self.duration
        window_key = f"{self.key}:{window_start}"
        cache.add(window_key, 0, timeout=self.duration + 1)
        try:
            count = cache.incr(window_key)
        except ValueError:  # expired between add and incr
            cache.set(window_key, 1, timeout=self.duration + 1)
            count = 1
        self.retry_after = window_start + self.duration - now
        return count <= self.num_requests

    def wait(self):
        return max(1, self.retry_after)


class BulkRateThrottle(ClientRateThrottle):
    """Bulk requests carry up to 500 cases each: their own, smaller budget."""

    scope = "bulk"
