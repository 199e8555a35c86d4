"""Small helpers shared by the server-rendered views."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme

from kernel.errors import DomainError


def confidential(view: Callable) -> Callable:
    """Pages that may carry victim data: never stored by browsers or proxies."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, private, max-age=0"
        return response

    return wrapper


def htmx_full_page_when_refused(view: Callable) -> Callable:
    """For a fragment htmx polls: when the view refuses (403, e.g. the capability was withdrawn
    while the page was open), answer with ``HX-Redirect`` to the page itself, so htmx loads it
    whole and the user reads why, instead of polling refusals for ever (htmx swaps no 4xx). A
    session that ended is institutions.middleware.HtmxAuthRedirectMiddleware's."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if request.headers.get("HX-Request") == "true" and response.status_code == 403:
            return _htmx_redirect(request.get_full_path())
        return response

    return wrapper


def _htmx_redirect(url: str) -> HttpResponse:
    response = HttpResponse(status=200)
    response["HX-Redirect"] = url
    add_never_cache_headers(response)
    return response


def refused_input(view: Callable | None = None, *, labels: Mapping[str, str] | None = None) -> Callable:
    """A refused action re-renders as a Spanish error page: 400 for bad input (field by field),
    409 for a rule of the domain. Http404 and PermissionDenied pass through.

    Each field's errors are shown under the field's Spanish label: the model field's verbose
    name when the error comes from kernel.validation.validate_instance, else ``labels`` (for
    keys that name a service argument, not a model field: ``@refused_input(labels={...})``).
    A key with no label shows its messages alone; a raw key is never shown.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except ValidationError as exc:
                return _refused(request, _labelled_errors(exc, labels), status=400)
            except DomainError as exc:
                messages.error(request, exc.message)
                return _refused(request, [RefusedField("", [exc.message])], status=409)

        return wrapper

    return decorate if view is None else decorate(view)


@dataclass(frozen=True)
class RefusedField:
    label: str  # empty for errors of no field, or of a field with no known label
    messages: list[str]


def _labelled_errors(exc: ValidationError, labels: Mapping[str, str] | None) -> list[RefusedField]:
    known = {**getattr(exc, "field_labels", {}), **(labels or {})}
    errors = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    return [
        RefusedField("" if name == NON_FIELD_ERRORS else str(known.get(name, "")), texts)
        for name, texts in errors.items()
    ]


def _refused(request: HttpRequest, errors: list[RefusedField], *, status: int) -> HttpResponse:
    context = {"errors": errors, "back_url": referring_page(request)}
    return render(request, "kernel/refused.html", context, status=status)


def refused_page(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """The Spanish refusal page with one message of no field (e.g. a 403 that says why)."""
    return _refused(request, [RefusedField("", [str(message)])], status=status)


def referring_page(request: HttpRequest) -> str:
    """The page the user came from, if it is one of ours (same host), else ""."""
    referer = request.META.get("HTTP_REFERER", "")
    same_host = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if referer and same_host else ""
