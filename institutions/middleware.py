"""Session rules for human users: a second factor before anything else, and limited lifetimes."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp import user_has_device

from kernel.api_errors import problem_response

LOGIN_AT = "mitp_login_at"
SEEN_AT = "mitp_seen_at"
PREVIOUS_LOGIN = "mitp_previous_login"
# The last-activity mark is rewritten at most this often: one session write a minute, not one
# per request, and the 30-minute idle limit stays exact to the minute.
SEEN_RESOLUTION_SECONDS = 60


class SessionLimitsMiddleware:
    """Ends a session after 30 minutes without a request or 12 hours after login, whichever
    comes first. Enforced on the server: the cookie's own expiry is only a backstop."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            login_at = request.session.get(LOGIN_AT, now)
            seen_at = request.session.get(SEEN_AT, now)
            idle = now - seen_at > settings.SESSION_IDLE_TIMEOUT.total_seconds()
            too_old = now - login_at > settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
            if idle or too_old:
                logout(request)
                messages.info(request, _("Su sesión expiró. Ingrese nuevamente."))
                return _to_login(request)
            if LOGIN_AT not in request.session:
                request.session[LOGIN_AT] = now
            if now - seen_at >= SEEN_RESOLUTION_SECONDS or SEEN_AT not in request.session:
                request.session[SEEN_AT] = now
        return self.get_response(request)


def _to_login(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problem_response(401, _("La sesión expiró. Ingrese nuevamente."))
    return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")


# Pages a signed-in but not yet verified user may reach: the second-factor steps and leaving.
_OPEN_URL_NAMES = ("two_factor_verify", "two_factor_enroll", "logout", "health", "login")


class RequireTwoFactorMiddleware:
    """A password alone opens nothing: until the session is verified with a TOTP code, every
    page sends the user to verification (or to enrollment, on first login)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths: tuple[str, ...] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not user.is_verified() and not self._is_open(request.path):
            if request.path.startswith("/api/"):
                return problem_response(403, _("Se requiere el segundo factor de autenticación."))
            step = "two_factor_verify" if user_has_device(user, confirmed=True) else "two_factor_enroll"
            return redirect(f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def _is_open(self, path: str) -> bool:
        if self._open_paths is None:
            self._open_paths = tuple(reverse(name) for name in _OPEN_URL_NAMES)
            self._static_prefix = "/" + settings.STATIC_URL.lstrip("/")
        return path in self._open_paths or path.startswith(self._static_prefix)


class HtmxAuthRedirectMiddleware:
    """An htmx request (a filter, a page link, the duplicate warning) answered by a redirect to
    sign-in or to the second factor would swap the login page into a fragment of the page.
    For htmx, such a redirect becomes HX-Redirect: the browser loads the whole page instead."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._auth_paths: tuple[str, ...] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.headers.get("HX-Request") == "true" and response.status_code in (301, 302, 303, 307, 308):
            location = response.get("Location", "")
            if location.split("?")[0] in self._paths():
                redirect_for_htmx = HttpResponse(status=204)
                redirect_for_htmx["HX-Redirect"] = location
                return redirect_for_htmx
        return response

    def _paths(self) -> tuple[str, ...]:
        if self._auth_paths is None:
            self._auth_paths = tuple(reverse(name) for name in ("login", "two_factor_verify", "two_factor_enroll"))
        return self._auth_paths
