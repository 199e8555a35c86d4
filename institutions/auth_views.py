"""Signing in: password (django-axes counts failures), then the TOTP second factor."""

from __future__ import annotations

import time

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from institutions import two_factor
from institutions.middleware import LOGIN_AT, PREVIOUS_LOGIN, SEEN_AT


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        # Django's Spanish is Spain's, and its wording; this one neither says which field was
        # wrong nor whether the account exists.
        "invalid_login": _lazy("Usuario o contraseña incorrectos. Revise ambos e intente de nuevo."),
        "inactive": _lazy("Esta cuenta está desactivada. Consulte al administrador de su institución."),
    }


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_valid(self, form):
        previous_login = form.get_user().last_login  # before Django overwrites it
        response = super().form_valid(form)
        now = int(time.time())
        self.request.session[LOGIN_AT] = now
        self.request.session[SEEN_AT] = now
        # "Causas compartidas desde su última visita" on the home page counts from here.
        self.request.session[PREVIOUS_LOGIN] = previous_login.isoformat() if previous_login else None
        return response


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return "/"


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
@login_required
def two_factor_enroll_view(request):
    if request.user.is_verified():
        return redirect(_next_url(request))
    if two_factor.is_enrolled(request.user):
        return redirect("two_factor_verify")
    error = ""
    if request.method == "POST":
        if two_factor.enrollment_confirm(request=request, token=request.POST.get("token", "")):
            return redirect(_next_url(request))
        error = _("El código no es válido. Revise la hora de su teléfono e ingrese el código que se muestra ahora.")
    enrollment = two_factor.enrollment_start(user=request.user)
    context = {"enrollment": enrollment, "error": error, "next": _next_url(request)}
    return render(request, "registration/two_factor_enroll.html", context, status=400 if error else 200)


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
@login_required
def two_factor_verify_view(request):
    if request.user.is_verified():
        return redirect(_next_url(request))
    if not two_factor.is_enrolled(request.user):
        return redirect("two_factor_enroll")
    error = ""
    if request.method == "POST":
        if two_factor.verify(request=request, token=request.POST.get("token", "")):
            return redirect(_next_url(request))
        error = _("El código no es válido o ya fue usado. Espere el siguiente código e intente de nuevo.")
    context = {"error": error, "next": _next_url(request)}
    return render(request, "registration/two_factor_verify.html", context, status=400 if error else 200)
