import datetime

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cases.selectors import (
    SHARED_SINCE_DEFAULT,
    home_cases_shared_since,
    home_open_cases,
    home_pending_access_requests,
)
from institutions.middleware import PREVIOUS_LOGIN
from kernel.api_errors import problem_response
from kernel.health import redis_ping
from kernel.web import confidential


def _previous_visit(request: HttpRequest) -> datetime.datetime:
    """When the user last logged in before this session (stored by the login view); the last
    SHARED_SINCE_DEFAULT days when unknown (first login, or a session opened otherwise)."""
    stored = request.session.get(PREVIOUS_LOGIN)
    previous = parse_datetime(stored) if isinstance(stored, str) else None
    return previous or timezone.now() - SHARED_SINCE_DEFAULT


@require_GET
@login_required
@confidential
def home(request: HttpRequest) -> HttpResponse:
    """Inicio: what needs the user's institution today. Every list and count goes through the
    case selectors, so it holds only what the institution may see."""
    since = _previous_visit(request)
    context = {
        "open_cases": home_open_cases(user=request.user),
        "pending_requests": home_pending_access_requests(user=request.user),
        "new_shares": home_cases_shared_since(user=request.user, since=since),
        "since": since,
        "since_known": isinstance(request.session.get(PREVIOUS_LOGIN), str),
    }
    return render(request, "kernel/home.html", context)


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for load balancers and docker-compose: database and Redis reachable."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "error"
    checks["redis"] = "ok" if redis_ping() else "error"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: Django's own page is English, with an inline style the CSP refuses."""
    return render(request, "403_csrf.html", status=403)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """handler404: the Spanish page, or problem+json for an unknown URL under /api/."""
    if _is_api(request):
        return problem_response(404, "No encontrado.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: never details; problem+json under /api/."""
    if _is_api(request):
        return problem_response(500, "Error interno. El equipo de la MITP fue notificado.")
    return defaults.server_error(request)
