"""Signing in: password, then TOTP (enrolled on first login); lockout; session lifetimes.

These go through the real forms with Django's plain test client (no force_login shortcut), so
the middleware, django-otp and django-axes all take part.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from institutions.middleware import LOGIN_AT, PREVIOUS_LOGIN, SEEN_AT
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.access.scenario import application_routes

pytestmark = pytest.mark.django_db

PASSWORD = "clave-de-prueba-segura"
LOCKED_TEXT = "Cuenta bloqueada temporalmente"


def password_login(client: Client, username: str, password: str = PASSWORD, ip: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def code_for(key: bytes, steps_ahead: int = 0) -> str:
    totp = TOTP(key)
    totp.time = time.time() + steps_ahead * 30
    return f"{totp.token():06d}"


def manual_key(page: str) -> bytes:
    shown = re.search(r'<code id="clave-manual">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    return base64.b32decode(shown + "=" * (-len(shown) % 8))


def enroll(client: Client, officer) -> bytes:
    """Password, then the enrollment page's key, then its first code: a verified session."""
    assert password_login(client, officer.username).status_code == 302
    page = client.get(reverse("two_factor_enroll")).content.decode()
    key = manual_key(page)
    response = client.post(reverse("two_factor_enroll"), {"token": code_for(key)})
    assert response.status_code == 302
    return key


# --- enrollment and verification ----------------------------------------------------------------


def test_first_login_sends_the_user_to_enroll_with_a_qr_code_and_a_manual_key(officer):
    client = Client()
    response = password_login(client, officer.username)
    assert response.status_code == 302
    assert client.get(reverse("home")).url.startswith(reverse("two_factor_enroll"))
    page = client.get(reverse("two_factor_enroll")).content.decode()
    assert "<svg" in page and "Código QR" in page
    # The manual key is the device's own secret, so scanning and typing give the same codes.
    device = TOTPDevice.objects.get(user=officer)
    assert manual_key(page) == device.bin_key and not device.confirmed
    # Reloading keeps the same key: a QR code already scanned stays valid.
    assert manual_key(client.get(reverse("two_factor_enroll")).content.decode()) == device.bin_key


def test_enrollment_confirms_with_the_first_code_and_opens_the_application(officer):
    client = Client()
    enroll(client, officer)
    assert TOTPDevice.objects.get(user=officer).confirmed
    home = client.get(reverse("home"))
    assert home.status_code == 200 and "Policía de Investigaciones de Chile" in home.content.decode()
    assert AccessEvent.objects.filter(action=AccessAction.TWO_FACTOR_ENROLLED, actor_id=officer.pk).count() == 1


def test_a_wrong_enrollment_code_is_refused_in_spanish_and_confirms_nothing(officer):
    client = Client()
    password_login(client, officer.username)
    key = manual_key(client.get(reverse("two_factor_enroll")).content.decode())
    wrong = f"{(int(code_for(key)) + 1) % 1_000_000:06d}"
    response = client.post(reverse("two_factor_enroll"), {"token": wrong})
    assert response.status_code == 400
    assert "El código no es válido" in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert not TOTPDevice.objects.get(user=officer).confirmed
    assert client.get(reverse("home")).status_code == 302


def test_later_logins_ask_for_a_code_instead_of_enrolling_again(officer):
    key = enroll(Client(), officer)
    client = Client()
    password_login(client, officer.username)
    assert client.get(reverse("home")).url.startswith(reverse("two_factor_verify"))
    assert client.get(reverse("two_factor_enroll")).url == reverse("two_factor_verify")
    # The code of the enrollment's time step is spent; the next step's code opens the session.
    response = client.post(reverse("two_factor_verify"), {"token": code_for(key, steps_ahead=1)})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_a_code_cannot_be_used_twice(officer):
    key = enroll(Client(), officer)
    first, second = Client(), Client()
    password_login(first, officer.username)
    password_login(second, officer.username)
    code = code_for(key, steps_ahead=1)
    assert first.post(reverse("two_factor_verify"), {"token": code}).status_code == 302
    response = second.post(reverse("two_factor_verify"), {"token": code})
    assert response.status_code == 400 and "ya fue usado" in response.content.decode()
    assert second.get(reverse("home")).status_code == 302


def test_a_wrong_code_is_refused_and_audited(officer):
    key = enroll(Client(), officer)
    client = Client()
    password_login(client, officer.username)
    wrong = f"{(int(code_for(key, 1)) + 1) % 1_000_000:06d}"
    assert client.post(reverse("two_factor_verify"), {"token": wrong}).status_code == 400
    assert AccessEvent.objects.filter(
        action=AccessAction.LOGIN_FAILED, actor_id=officer.pk, details__step="totp"
    ).exists()


def test_the_next_parameter_survives_both_steps_but_never_leaves_the_site(officer):
    key = enroll(Client(), officer)
    client = Client()
    password_login(client, officer.username)
    target = reverse("cases:list")
    response = client.post(reverse("two_factor_verify"), {"token": code_for(key, 1), "next": target})
    assert response.url == target
    client = Client()
    password_login(client, officer.username)
    response = client.post(reverse("two_factor_verify"), {"token": code_for(key, 2), "next": "https://evil.example/"})
    assert response.url == "/"


def _concrete(route: str) -> str:
    """A path for a route pattern, with a placeholder for each captured value."""
    placeholders = {
        "int": "1",
        "uuid": str(uuid.uuid4()),
        "slug": "x",
        "str": "x",
        "path": "x",
        "source": "pdi-parte",
        "reference": "x",
    }
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: placeholders[m.group(1) or "str"], route)


OPEN_WITHOUT_SECOND_FACTOR = {"login", "logout", "health", "two_factor_verify", "two_factor_enroll"}


@pytest.mark.parametrize(
    "route",
    [r for r in application_routes() if r.name not in OPEN_WITHOUT_SECOND_FACTOR and "(?P" not in r.route],
    ids=lambda r: r.name,
)
def test_a_password_alone_opens_no_page_of_the_application(officer, route):
    """Every route of the application, generated from the URL resolver: a session that passed
    the password but not the second factor reaches none of them."""
    client = Client()
    password_login(client, officer.username)
    response = client.get(_concrete(route.route))
    if route.is_api:
        assert response.status_code == 403
    else:
        assert response.status_code == 302 and response.url.startswith(reverse("two_factor_enroll"))


# --- lockout (django-axes) ----------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_user_and_ip_for_fifteen_minutes(officer):
    client = Client()
    for _ in range(4):
        response = password_login(client, officer.username, "incorrecta")
        assert response.status_code == 200 and LOCKED_TEXT not in response.content.decode()
    fifth = password_login(client, officer.username, "incorrecta")
    assert fifth.status_code == 429 and LOCKED_TEXT in fifth.content.decode()
    # Even the right password is refused now, with the same Spanish message.
    sixth = password_login(client, officer.username)
    assert sixth.status_code == 429 and "15 minutos" in sixth.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lock_is_for_the_user_and_ip_pair(officer):
    for _ in range(5):
        password_login(Client(), officer.username, "incorrecta", ip="10.0.0.1")
    assert password_login(Client(), officer.username, ip="10.0.0.2").status_code == 302


def test_the_lock_ends_after_fifteen_minutes(officer):
    for _ in range(5):
        password_login(Client(), officer.username, "incorrecta")
    assert password_login(Client(), officer.username).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=5))
    assert password_login(Client(), officer.username).status_code == 302


def test_a_successful_login_resets_the_failure_count(officer):
    for _ in range(4):
        password_login(Client(), officer.username, "incorrecta")
    assert password_login(Client(), officer.username).status_code == 302
    for _ in range(4):
        password_login(Client(), officer.username, "incorrecta")
    assert password_login(Client(), officer.username).status_code == 302


# --- session lifetimes ---------------------------------------------------------------------------


def _set_session(client: Client, **values) -> None:
    session = client.session
    for key, value in values.items():
        session[key] = value
    session.save()


def test_a_session_ends_after_thirty_minutes_without_activity(officer):
    client = Client()
    enroll(client, officer)
    now = int(time.time())
    _set_session(client, **{SEEN_AT: now - 29 * 60})
    assert client.get(reverse("home")).status_code == 200
    assert client.session[SEEN_AT] >= now  # activity moves the mark
    _set_session(client, **{SEEN_AT: now - 31 * 60})
    response = client.get(reverse("cases:list"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    assert "Su sesión expiró" in client.get(response.url).content.decode()


def test_a_session_ends_twelve_hours_after_login_even_when_active(officer):
    client = Client()
    enroll(client, officer)
    now = int(time.time())
    _set_session(client, **{LOGIN_AT: now - 11 * 3600, SEEN_AT: now - 60})
    assert client.get(reverse("home")).status_code == 200
    _set_session(client, **{LOGIN_AT: now - 12 * 3600 - 1, SEEN_AT: now - 60})
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "_auth_user_id" not in client.session


def test_only_a_verified_sign_in_counts_as_the_last_login(officer):
    client = Client()
    assert password_login(client, officer.username).status_code == 302
    assert client.session[PREVIOUS_LOGIN] is None  # first sign-in ever
    officer.refresh_from_db()
    assert officer.last_login is None  # a password alone is not a sign-in
    key = manual_key(client.get(reverse("two_factor_enroll")).content.decode())
    client.post(reverse("two_factor_enroll"), {"token": code_for(key)})
    officer.refresh_from_db()
    first_login = officer.last_login
    assert first_login is not None

    client = Client()
    password_login(client, officer.username)
    assert client.session[PREVIOUS_LOGIN] == first_login.isoformat()
    officer.refresh_from_db()
    assert officer.last_login == first_login  # unchanged until the code
    client.post(reverse("two_factor_verify"), {"token": code_for(key, 1)})
    officer.refresh_from_db()
    assert officer.last_login > first_login
    assert AccessEvent.objects.filter(action=AccessAction.TWO_FACTOR_VERIFIED, actor_id=officer.pk).count() == 1


def test_deactivating_a_user_ends_their_open_session(officer):
    client = Client()
    enroll(client, officer)
    officer.is_active = False
    officer.save(update_fields=["is_active"])
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_deactivating_the_institution_ends_its_users_open_sessions(officer):
    """As the API already did: a deactivated institution's users are signed out."""
    client = Client()
    enroll(client, officer)
    assert client.get(reverse("home")).status_code == 200
    officer.institution.is_active = False
    officer.institution.save(update_fields=["is_active"])
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_user_of_a_deactivated_institution_cannot_sign_in(officer):
    officer.institution.is_active = False
    officer.institution.save(update_fields=["is_active"])
    client = Client()
    response = password_login(client, officer.username)
    assert response.status_code == 200, "the login form again"
    assert "_auth_user_id" not in client.session


def test_changing_the_password_ends_the_other_sessions(officer):
    client = Client()
    enroll(client, officer)
    officer.set_password("otra-clave-muy-segura-2026")
    officer.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- every signed-in answer is no-store; htmx and CSRF edge cases -------------------------------


@pytest.mark.parametrize("route", [r for r in application_routes() if "(?P" not in r.route], ids=lambda r: r.name)
def test_no_answer_to_a_signed_in_user_may_be_cached(client, officer, route):
    """Every route, generated from the URL resolver (found or not, allowed or not)."""
    client.force_login(officer)
    response = client.get(_concrete(route.route))
    assert "no-store" in response["Cache-Control"], (route.name, response.status_code)


def test_an_htmx_request_after_the_session_expired_reloads_the_whole_page(officer):
    client = Client()
    enroll(client, officer)
    _set_session(client, **{SEEN_AT: int(time.time()) - 31 * 60})
    response = client.get(reverse("cases:list"), {"estado": "vigente"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_an_htmx_request_of_an_anonymous_user_reloads_the_whole_page(db):
    response = Client().get(reverse("cases:list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"].startswith(reverse("login"))


def test_a_refused_csrf_token_gets_a_spanish_page_without_inline_style(officer):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": officer.username, "password": PASSWORD})
    body = response.content.decode()
    assert response.status_code == 403 and "El formulario expiró" in body
    assert '<html lang="es-CL">' in body and "<style" not in body


def test_behind_a_proxy_failures_are_counted_per_client_address(settings, officer):
    settings.MITP_PROXY_COUNT = 1

    def attempt(forwarded_for: str, password: str):
        return Client().post(
            reverse("login"),
            {"username": officer.username, "password": password},
            REMOTE_ADDR="10.9.9.9",  # the proxy, for every request
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    for n in range(5):
        # The attacker writes its own X-Forwarded-For; the proxy appends the real address.
        attempt(f"1.2.3.{n}, 200.1.1.1", "incorrecta")
    assert attempt("200.1.1.1", PASSWORD).status_code == 429
    assert attempt("200.2.2.2", PASSWORD).status_code == 302  # another client behind the same proxy
