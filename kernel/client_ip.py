"""The client's address, as the lockout and the access log must see it.

Behind the TLS proxy, REMOTE_ADDR is the proxy for every request. Each of the MITP_PROXY_COUNT
trusted proxies appends the address it received the request from to X-Forwarded-For, so the
client is that many entries from the right; anything further left was written by the client
and is not trusted.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    count = settings.MITP_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR")
