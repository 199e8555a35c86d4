"""API errors as RFC 9457 problem details (application/problem+json), in Spanish.

Every error of /api/v1/ has the same shape: ``type``, ``title``, ``status``, ``detail`` and, for
refused input, ``errors``: one entry per message with the path of the field it concerns
("victims.0.sex"). Django's ValidationError (raised by our services) and DomainError (a rule of
the domain) are turned into 400 and 409 here, instead of surfacing as a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from kernel.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: gettext_lazy("La solicitud tiene datos no válidos"),
    401: gettext_lazy("Se requiere autenticación"),
    403: gettext_lazy("Acción no permitida"),
    404: gettext_lazy("Recurso no encontrado"),
    405: gettext_lazy("Método no permitido"),
    406: gettext_lazy("Formato de respuesta no disponible"),
    409: gettext_lazy("Conflicto con una regla del dominio"),
    412: gettext_lazy("El recurso cambió desde que se leyó"),
    413: gettext_lazy("La solicitud es demasiado grande"),
    415: gettext_lazy("Tipo de contenido no admitido"),
    422: gettext_lazy("La solicitud no se puede procesar"),
    428: gettext_lazy("Falta una condición previa"),
    429: gettext_lazy("Demasiadas solicitudes"),
    500: gettext_lazy("Error interno"),
}


def problem(status_code: int, *, detail: str = "", errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": str(_TITLES.get(status_code, _("Error"))),
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(status_code: int, detail: str = "") -> JsonResponse:
    """For the middleware, which answers before DRF is involved."""
    return JsonResponse(problem(status_code, detail=detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def field_errors(detail: Any, path: str = "") -> list[dict[str, str]]:
    """Flattens DRF's nested error detail into [{"field": "a.0.b", "message": ...}]."""
    if isinstance(detail, dict):
        return [
            error
            for key, value in detail.items()
            for error in field_errors(
                value, path if key in (NON_FIELD_ERRORS, "non_field_errors") else _join(path, key)
            )
        ]
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [{"field": path, "message": str(item)} for item in detail]
        return [error for index, item in enumerate(detail) for error in field_errors(item, _join(path, index))]
    return [{"field": path, "message": str(detail)}]


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("El cuerpo de la solicitud supera el tamaño máximo admitido.")
    default_code = "request_too_large"


def problem_for_exception(exc: Exception, request) -> tuple[int, dict[str, Any]]:
    """(status, problem body) for an exception, as the API would answer it; 500 for anything
    that is not a client's error. For answers that hold several results (bulk ingest)."""
    response = problem_exception_handler(exc, {"request": request})
    if response is None:
        return 500, problem(500)
    return response.status_code, response.data


def problem_exception_handler(exc: Exception, context: dict) -> Any:
    if isinstance(exc, RequestDataTooBig):
        # Raised while DRF reads the body: in the view, or already during authentication.
        exc = RequestTooLarge()
    elif isinstance(exc, DjangoPermissionDenied) and exc.args:
        # DRF would turn it into a PermissionDenied without our message, which says why.
        exc = exceptions.PermissionDenied(str(exc.args[0]))
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, DomainError):
        request = context.get("request")
        conflict = exc
        exc = exceptions.APIException(conflict.message)
        exc.status_code = status.HTTP_409_CONFLICT
        if conflict.code == "version_conflict" and request is not None and "If-Match" in request.headers:
            # The client said which version it read: a stale one is a failed precondition.
            exc.status_code = status.HTTP_412_PRECONDITION_FAILED
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real server error: Django's 500 handling, never details to the client
    if isinstance(exc, exceptions.ValidationError):
        body = problem(response.status_code, detail=_("Revise los campos indicados."), errors=field_errors(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else ""
        body = problem(response.status_code, detail=str(detail))
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response
