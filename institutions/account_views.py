"""The account pages of every user: changing one's password, and activating an invited account
(setting the first password from the e-mailed link).

Both are Django's own views (validators, one-time tokens, sensitive-parameter filtering), with
Spanish templates and two additions: the change is audited, and every other session of the user
ends at once.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from institutions.services import user_password_changed


def _refused(response):
    """A form re-rendered with its errors answers 400, as every refused input here."""
    response.status_code = 400
    return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Asks for the current password. This session stays open (Django's
    update_session_auth_hash); every other session of the user ends: Django would refuse them on
    their next request (the session auth hash changed), and they are deleted as well."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("home")

    def form_invalid(self, form):
        return _refused(super().form_invalid(form))

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            user_password_changed(user=form.user, keep_session_key=self.request.session.session_key, via="cambio")
        messages.success(
            self.request, _("Su contraseña fue cambiada. Las demás sesiones abiertas con su cuenta se cerraron.")
        )
        return response


class AccountActivateView(auth_views.PasswordResetConfirmView):
    """The invitation link: sets the first password, without signing in. The next login goes
    through the password and then the second-factor enrollment (RequireTwoFactorMiddleware).

    Reachable anonymously (it is the only way in for an account without a password). Django
    moves the token from the URL into the session before showing the form, so it does not leak
    through the Referer header; the token stops working once the password is set.
    """

    template_name = "registration/account_activate.html"
    success_url = reverse_lazy("institutions:account_activated")
    post_reset_login = False

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        # A deactivated account's invitation opens nothing.
        return user if user is not None and user.is_active else None

    def form_invalid(self, form):
        return _refused(super().form_invalid(form))

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            user_password_changed(user=form.user, keep_session_key=None, via="activacion")
        return response


class AccountActivatedView(auth_views.PasswordResetCompleteView):
    template_name = "registration/account_activated.html"
