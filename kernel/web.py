"""Small helpers shared by the server-rendered views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

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


def refused_input(view: Callable) -> Callable:
    """A refused action re-renders as a Spanish error page: 400 for bad input (field by field),
    409 for a rule of the domain. Http404 and PermissionDenied pass through."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            return render(request, "kernel/refused.html", {"errors": errors}, status=400)
        except DomainError as exc:
            messages.error(request, exc.message)
            return render(request, "kernel/refused.html", {"errors": {"__all__": [exc.message]}}, status=409)

    return wrapper
