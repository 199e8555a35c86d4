"""Optimistic concurrency over HTTP: ``ETag`` from a record's version, ``If-Match`` on writes.

A write whose ``If-Match`` names a version that is no longer current answers 412 and changes
nothing; ``If-Match: *`` and no header at all accept any current version (a nightly sync
replays its own data and need not read first).
"""

from __future__ import annotations

from django.utils.http import parse_etags, quote_etag
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _(
        "El recurso cambió desde que usted lo leyó (If-Match no coincide con la versión actual). "
        "Vuelva a leerlo y aplique sus cambios otra vez."
    )
    default_code = "precondition_failed"


def etag(version: int) -> str:
    return quote_etag(str(version))


def if_match_version(request) -> int | None:
    """The version the client says it read, or None when any version will do.

    Refuses (412) a header that names no version of ours: such a write could never be right.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return None
    for tag in tags:
        value = tag.strip('"')
        # ASCII only: "²".isdigit() is True, and int("²") raises.
        if value.isascii() and value.isdigit() and len(value) < 10:
            return int(value)
    raise PreconditionFailed()


def if_match_any(request) -> bool:
    """``If-Match: *``: write only if the resource exists (RFC 9110 §13.1.1)."""
    return request.headers.get("If-Match", "").strip() == "*"


def check_if_match(request, current_version: int) -> int | None:
    expected = if_match_version(request)
    if expected is not None and expected != current_version:
        raise PreconditionFailed()
    return expected
