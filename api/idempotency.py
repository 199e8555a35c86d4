"""``Idempotency-Key`` on every POST: a replay within 24 hours returns the first response without
acting again; the same key with a different request answers 422 (draft-ietf-httpapi-
idempotency-key-header). Keys belong to the caller (the client's service user, or a person).

The first request and the record of its response commit together, in one transaction: if the
action fails, nothing is recorded and the key may be used again. Two requests with the same key
at once are serialised by a transaction-scoped advisory lock, so the second one replays.
"""

from __future__ import annotations

import datetime
import json
import uuid
from functools import wraps

from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_WINDOW = datetime.timedelta(hours=24)
REPLAYED_HEADERS = ("ETag", "Location")


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _(
        "Esta Idempotency-Key ya se usó, en las últimas 24 horas, con una solicitud distinta. "
        "Use una clave nueva para cada operación distinta."
    )
    default_code = "idempotency_key_reused"


def _request_hash(request) -> str:
    """Keyed (HMAC with a key derived from SECRET_KEY, which is not in the database): the body may
    carry values kept encrypted elsewhere (a permit number, a third party's contact, identity in
    a bulk load), and a plain hash would let a reader of a dump recover them by trying
    candidates."""
    message = b"".join(
        len(part).to_bytes(8, "big") + part for part in (request.method.encode(), request.path.encode(), request.body)
    )
    return salted_hmac("api.idempotency.request_hash", message, algorithm="sha256").hexdigest()


def _key(request) -> str:
    """The key, as a UUID (the schema says so): a fresh random one per operation cannot collide
    with another operation of the same client by accident."""
    key = request.headers.get(HEADER, "").strip()
    try:
        return str(uuid.UUID(key))
    except ValueError:
        raise ValidationError(
            {
                HEADER: [
                    _("Toda solicitud POST debe llevar la cabecera Idempotency-Key con un UUID nuevo por operación.")
                ]
            }
        ) from None


def purge_expired() -> int:
    return IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - REPLAY_WINDOW).delete()[0]


def idempotent(handler):
    """Decorates a POST handler of an APIView."""

    @wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = _key(request)
        request_hash = _request_hash(request)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"idempotency:{request.user.pk}:{key}"]
                )
            records = IdempotencyRecord.objects.filter(caller=request.user, key=key)
            records.filter(created_at__lt=timezone.now() - REPLAY_WINDOW).delete()
            record = records.first()
            if record is not None:
                if record.request_hash != request_hash:
                    raise IdempotencyKeyReused()
                replay = Response(json.loads(record.response_body), status=record.status_code)
                for name, value in record.response_headers.items():
                    replay[name] = value
                replay["Idempotent-Replayed"] = "true"
                return replay
            response = handler(view, request, *args, **kwargs)
            if status.is_success(response.status_code):
                IdempotencyRecord.objects.create(
                    caller=request.user,
                    key=key,
                    request_hash=request_hash,
                    status_code=response.status_code,
                    response_body=JSONRenderer().render(response.data).decode(),
                    response_headers={name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)},
                )
            return response

    return wrapper
