"""Every user's account pages: changing one's password (which signs out every other session),
and activating an invited account from the e-mailed one-time link."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse

from institutions.constants import Role
from institutions.models import User
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.clients import VerifiedClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "clave-de-prueba-segura"
NEW_PASSWORD = "otra-clave-bastante-larga-2026"


def signed_in(user) -> Client:
    browser = VerifiedClient()
    browser.force_login(user)
    assert browser.get(reverse("home")).status_code == 200
    return browser


def sessions_of(user) -> list[str]:
    return [s.session_key for s in Session.objects.all() if s.get_decoded().get(SESSION_KEY) == str(user.pk)]


def change(browser: Client, old: str = PASSWORD, new: str = NEW_PASSWORD, confirm: str | None = None):
    data = {"old_password": old, "new_password1": new, "new_password2": new if confirm is None else confirm}
    return browser.post(reverse("institutions:password_change"), data)


# --- changing one's password ----------------------------------------------------------------------


def test_the_password_page_asks_for_the_current_and_the_new_password_in_spanish(officer):
    page = signed_in(officer).get(reverse("institutions:password_change")).content.decode()
    assert '<label for="id_old_password">Contraseña antigua' in page
    assert '<label for="id_new_password1">Contraseña nueva' in page
    assert "Su contraseña debe contener al menos 12 caracteres." in page
    assert "se cerrarán todas sus demás sesiones abiertas" in page


def test_anonymous_visitors_are_sent_to_log_in_before_changing_a_password():
    response = Client().get(reverse("institutions:password_change"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_changing_the_password_keeps_this_session_and_signs_out_every_other(officer):
    this, other = signed_in(officer), signed_in(officer)
    response = change(this)
    assert response.status_code == 302 and response.url == reverse("home")
    assert "Su contraseña fue cambiada" in this.get(response.url).content.decode()
    assert this.get(reverse("cases:list")).status_code == 200  # still signed in, still verified
    answer = other.get(reverse("cases:list"))
    assert answer.status_code == 302 and answer.url.startswith(reverse("login"))
    assert sessions_of(officer) == [this.session.session_key]
    officer.refresh_from_db()
    assert officer.check_password(NEW_PASSWORD)
    (event,) = AccessEvent.objects.filter(action=AccessAction.PASSWORD_CHANGED)
    assert event.actor_id == officer.pk and event.details == {"via": "cambio", "sessions_ended": 1}


@pytest.mark.parametrize(
    ("old", "new", "confirm", "field", "message"),
    [
        ("incorrecta", NEW_PASSWORD, None, "old_password", "Su contraseña antigua es incorrecta."),
        (PASSWORD, "corta", None, "new_password2", "La contraseña es demasiado corta."),
        (PASSWORD, "123456789012345", None, "new_password2", "completamente numérica"),
        (PASSWORD, "qwerty123456", None, "new_password2", "demasiado común"),
        (PASSWORD, NEW_PASSWORD, "otra-cosa-distinta-2026", "new_password2", "no coinciden"),
    ],
)
def test_a_refused_password_says_why_next_to_the_field_and_changes_nothing(officer, old, new, confirm, field, message):
    this, other = signed_in(officer), signed_in(officer)
    response = change(this, old, new, confirm)
    assert response.status_code == 400
    page = response.content.decode()
    errors = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page, re.S)
    assert errors and message in errors.group(1)
    assert 'aria-invalid="true"' in re.search(rf'<input[^>]*id="id_{field}"[^>]*>', page).group(0)
    officer.refresh_from_db()
    assert officer.check_password(PASSWORD)
    assert other.get(reverse("home")).status_code == 200
    assert not AccessEvent.objects.filter(action=AccessAction.PASSWORD_CHANGED).exists()


# --- activating an invited account ---------------------------------------------------------------


@pytest.fixture
def invitation(officer) -> tuple[User, str]:
    """An invitation sent by the administrator of the officer's institution: the new account and
    the path of the e-mailed link."""
    admin = UserFactory(institution=officer.institution, role=Role.INSTITUTION_ADMIN)
    browser = VerifiedClient()
    browser.force_login(admin)
    data = {
        "username": "invitada",
        "first_name": "Rosa",
        "last_name": "Mamani",
        "email": "rosa@pdi.cl",
        "role": "oficial",
    }
    assert browser.post(reverse("institutions:user_invite"), data).status_code == 302
    (message,) = mail.outbox
    return User.objects.get(username="invitada"), re.search(
        r"http://testserver(/cuenta/activar/\S+)", message.body
    ).group(1)


def test_an_invited_user_sets_a_password_and_is_then_asked_to_enroll_the_second_factor(invitation):
    invited, link = invitation
    browser = Client()
    opened = browser.get(link)
    # Django moves the token into the session before showing the form: it never reaches a Referer.
    assert opened.status_code == 302 and opened.url.endswith("/set-password/")
    form = browser.get(opened.url)
    assert form.status_code == 200
    assert "Crear su contraseña" in form.content.decode() and "invitada" in form.content.decode()

    done = browser.post(opened.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done.url == reverse("institutions:account_activated")
    assert "segundo factor" in browser.get(done.url).content.decode()
    invited.refresh_from_db()
    assert invited.check_password(NEW_PASSWORD)
    assert SESSION_KEY not in browser.session  # not signed in by the activation itself

    login = browser.post(reverse("login"), {"username": "invitada", "password": NEW_PASSWORD})
    assert login.status_code == 302
    assert browser.get(reverse("home")).url.startswith(reverse("two_factor_enroll"))
    (event,) = AccessEvent.objects.filter(action=AccessAction.PASSWORD_CHANGED)
    assert event.actor_id == invited.pk and event.details["via"] == "activacion"


def test_an_invitation_link_works_only_once(invitation):
    _, link = invitation
    browser = Client()
    set_password = browser.get(link).url
    browser.post(set_password, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    again = Client().get(link, follow=True)
    assert again.status_code == 200
    assert "El enlace no es válido" in again.content.decode()
    assert "new_password1" not in again.content.decode()


def test_a_weak_first_password_is_refused_in_spanish_and_the_link_still_works(invitation):
    invited, link = invitation
    browser = Client()
    set_password = browser.get(link).url
    response = browser.post(set_password, {"new_password1": "rosa", "new_password2": "rosa"})
    assert response.status_code == 400
    assert "La contraseña es demasiado corta" in response.content.decode()
    invited.refresh_from_db()
    assert not invited.has_usable_password()
    ok = browser.post(set_password, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert ok.status_code == 302


def test_a_password_like_the_username_is_refused(invitation):
    _, link = invitation
    browser = Client()
    set_password = browser.get(link).url
    response = browser.post(set_password, {"new_password1": "invitada2026!", "new_password2": "invitada2026!"})
    assert response.status_code == 400
    assert "demasiado similar" in response.content.decode()


def test_the_link_of_a_deactivated_account_opens_nothing(invitation):
    invited, link = invitation
    invited.is_active = False
    invited.save(update_fields=["is_active"])
    page = Client().get(link, follow=True).content.decode()
    assert "El enlace no es válido" in page and "new_password1" not in page


def test_a_tampered_link_opens_nothing(invitation):
    _, link = invitation
    tampered = re.sub(r"/[\w]+-[\w]+/$", "/abc-123/", link)
    assert tampered != link
    page = Client().get(tampered).content.decode()
    assert "El enlace no es válido" in page
