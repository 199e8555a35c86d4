"""The institutional administrator's pages: the users of my institution.

Through the real pages and services, against PostgreSQL: inviting, changing a role,
deactivating and reactivating, resetting the second factor, unlocking. Sessions, devices and
lockouts are the real ones (django.contrib.sessions, django-otp, django-axes).
"""

from __future__ import annotations

import datetime
import json
import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from institutions import two_factor
from institutions.constants import Role
from institutions.models import User
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.clients import VerifiedClient, verified_device
from tests.factories import InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "clave-de-prueba-segura"
ACCOUNT_ACTIONS = [
    "institutions:user_role",
    "institutions:user_deactivate",
    "institutions:user_reactivate",
    "institutions:user_two_factor_reset",
    "institutions:user_unlock",
    "institutions:user_invitation_resend",
]


def pdi_user(institution, role: str, username: str, first_name: str, last_name: str, email: str) -> User:
    """A named user, whose names the pages and messages are checked for."""
    return UserFactory(
        institution=institution, role=role, username=username, first_name=first_name, last_name=last_name, email=email
    )


@pytest.fixture
def admin(institution):
    return pdi_user(institution, Role.INSTITUTION_ADMIN, "admin.pdi", "Carmen", "Vidal", "cvidal@pdi.cl")


@pytest.fixture
def member(institution):
    return pdi_user(institution, Role.READER, "lector.pdi", "Luis", "Araya", "laraya@pdi.cl")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def detail_url(member) -> str:
    return reverse("institutions:user_detail", kwargs={"user_id": member.pk})


def action_url(name: str, member) -> str:
    return reverse(name, kwargs={"user_id": member.pk})


def signed_in(user) -> Client:
    """Another browser of ``user``, with a verified session."""
    other = VerifiedClient()
    other.force_login(user)
    assert other.get(reverse("home")).status_code == 200
    return other


def sessions_of(user) -> list[str]:
    return [s.session_key for s in Session.objects.all() if s.get_decoded().get(SESSION_KEY) == str(user.pk)]


def bad_logins(username: str, times: int = 5, ip: str = "10.0.0.7") -> None:
    for _ in range(times):
        Client().post(reverse("login"), {"username": username, "password": "incorrecta"}, REMOTE_ADDR=ip)


def events(action: str) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=action).order_by("id"))


def invite_data(**overrides) -> dict:
    data = {
        "username": "nueva.oficial",
        "first_name": "Rosa",
        "last_name": "Mamani",
        "email": "rmamani@pdi.cl",
        "role": Role.CASE_OFFICER,
    }
    return {**data, **overrides}


# --- who may use these pages ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.READER, Role.CASE_OFFICER])
def test_members_who_are_not_administrators_get_403_with_a_spanish_message(client, institution, member, role):
    client.force_login(UserFactory(institution=institution, role=role))
    for url in [reverse("institutions:user_list"), reverse("institutions:user_invite"), detail_url(member)]:
        response = client.get(url)
        assert response.status_code == 403
        assert "Solo los administradores institucionales" in response.content.decode()
    response = client.post(action_url("institutions:user_deactivate", member))
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.is_active


@pytest.mark.parametrize("flags", [{"is_staff": True}, {"is_staff": True, "is_superuser": True}])
def test_system_administrators_get_403_here_they_manage_accounts_in_the_system_admin(client, member, flags):
    client.force_login(UserFactory(institution=None, role="", **flags))
    assert client.get(reverse("institutions:user_list")).status_code == 403
    assert client.get(detail_url(member)).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(member):
    response = Client().get(reverse("institutions:user_list"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_an_administrator_gets_404_for_a_user_of_another_institution_and_changes_nothing(admin_client):
    stranger = UserFactory(institution=InstitutionFactory(), role=Role.CASE_OFFICER)
    verified_device(stranger)
    bad_logins(stranger.username)
    assert admin_client.get(detail_url(stranger)).status_code == 404
    for name in ACCOUNT_ACTIONS:
        assert admin_client.post(action_url(name, stranger), {"role": Role.READER}).status_code == 404, name
    for name in ["institutions:user_deactivate", "institutions:user_two_factor_reset"]:
        assert admin_client.get(action_url(name, stranger)).status_code == 404, name
    stranger.refresh_from_db()
    assert stranger.is_active and stranger.role == Role.CASE_OFFICER
    assert TOTPDevice.objects.filter(user=stranger).exists()
    assert AccessAttempt.objects.filter(username=stranger.username).exists()
    assert not AccessEvent.objects.filter(action__startswith="usuario_").exists()
    # The answer for an id that exists elsewhere is the answer for one that exists nowhere.
    assert admin_client.get(reverse("institutions:user_detail", kwargs={"user_id": 999_999_999})).status_code == 404


def test_the_navigation_offers_the_page_to_administrators_only(client, admin, member):
    client.force_login(admin)
    assert "Usuarios de mi institución" in client.get(reverse("home")).content.decode()
    client.force_login(member)
    page = client.get(reverse("home")).content.decode()
    assert "Usuarios de mi institución" not in page
    assert "Cambiar contraseña" in page


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_the_members_of_my_institution_and_their_account_state(admin_client, admin, member):
    UserFactory(username="ajeno.otra", institution=InstitutionFactory(), role=Role.INSTITUTION_ADMIN)
    verified_device(member)
    # 14:30 UTC on 5 March 2024 is 11:30 in Santiago (summer time, UTC-3).
    member.last_login = datetime.datetime(2024, 3, 5, 14, 30, tzinfo=datetime.UTC)
    member.save(update_fields=["last_login"])
    bad_logins(member.username)
    inactive = UserFactory(username="inactivo.pdi", institution=admin.institution, is_active=False)

    response = admin_client.get(reverse("institutions:user_list"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    rows = {row.username: row for row in response.context["page"]}
    assert set(rows) == {"admin.pdi", "lector.pdi", "inactivo.pdi"}  # never another institution's
    assert rows["lector.pdi"].two_factor_enrolled and rows["lector.pdi"].locked_out
    assert not rows["inactivo.pdi"].two_factor_enrolled and not rows["inactivo.pdi"].locked_out
    page = response.content.decode()
    assert "ajeno.otra" not in page
    row = re.search(r"<tr>\s*<td><a[^>]*>lector\.pdi</a>.*?</tr>", page, re.S).group(0)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells == ["lector.pdi", "Luis Araya", "laraya@pdi.cl", "Lector", "Sí", "Sí", "Sí", "05-03-2024 11:30"]
    assert str(inactive.pk) in page and "No (desactivado)" in page


def test_a_lock_older_than_the_cool_off_is_not_shown_as_a_lock(admin_client, member):
    bad_logins(member.username)
    AccessAttempt.objects.update(attempt_time=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=16))
    assert not admin_client.get(detail_url(member)).context["member"].locked_out


def test_four_failures_are_not_a_lock_and_five_from_two_addresses_are_not_either(admin_client, member):
    bad_logins(member.username, times=4, ip="10.0.0.1")
    bad_logins(member.username, times=1, ip="10.0.0.2")
    assert not admin_client.get(detail_url(member)).context["member"].locked_out
    bad_logins(member.username, times=1, ip="10.0.0.1")
    assert admin_client.get(detail_url(member)).context["member"].locked_out


# --- inviting ------------------------------------------------------------------------------------


def test_inviting_creates_an_active_member_without_a_password_and_emails_a_one_time_link(admin_client, admin):
    response = admin_client.post(reverse("institutions:user_invite"), invite_data())
    invited = User.objects.get(username="nueva.oficial")
    assert response.status_code == 302 and response.url == detail_url(invited)
    assert invited.institution == admin.institution and invited.role == Role.CASE_OFFICER and invited.is_active
    assert not invited.has_usable_password()
    assert (invited.first_name, invited.last_name, invited.email) == ("Rosa", "Mamani", "rmamani@pdi.cl")

    (message,) = mail.outbox
    assert message.to == ["rmamani@pdi.cl"]
    assert message.subject == "Invitación a la base de datos unificada MITP"
    assert "nueva.oficial" in message.body and "Policía de Investigaciones de Chile" in message.body
    assert re.search(r"http://testserver/cuenta/activar/[\w-]+/[\w-]+/", message.body)
    assert "3 días" in message.body

    followed = admin_client.get(response.url).content.decode()
    assert "Se invitó a Rosa Mamani" in followed and "Invitación pendiente" in followed

    (event,) = events(AccessAction.USER_INVITED)
    assert event.actor_id == admin.pk and event.institution_id == admin.institution_id
    assert event.details == {"user_id": invited.pk, "role": Role.CASE_OFFICER}


def test_the_invite_form_is_labelled_and_in_spanish(admin_client):
    page = admin_client.get(reverse("institutions:user_invite")).content.decode()
    for field, label in [
        ("username", "Nombre de usuario"),
        ("first_name", "Nombres"),
        ("last_name", "Apellidos"),
        ("email", "Correo electrónico"),
        ("role", "Rol"),
    ]:
        assert f'<label for="id_{field}">{label}' in page
    assert "Administrador institucional" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"username": "LECTOR.PDI"}, "username", "Ya existe un usuario con ese nombre de usuario."),
        ({"email": "LAraya@pdi.cl"}, "email", "Ya existe un usuario con ese correo electrónico."),
        ({"email": "no-es-un-correo"}, "email", "Ingrese un correo electrónico válido"),
        ({"username": "con espacios"}, "username", "Use solo letras, dígitos y los signos"),
        ({"first_name": ""}, "first_name", "Este campo es requerido."),
        ({"role": "jefe"}, "role", "Escoja una opción válida."),
    ],
)
def test_a_refused_invitation_says_why_next_to_the_field_keeps_the_input_and_creates_nothing(
    admin_client, member, overrides, field, message
):
    users_before = User.objects.count()
    response = admin_client.post(reverse("institutions:user_invite"), invite_data(**overrides))
    assert response.status_code == 400
    page = response.content.decode()
    errors = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page, re.S)
    assert errors and message in errors.group(1)
    widget = re.search(rf'<(?:input|select)[^>]*id="id_{field}"[^>]*>', page).group(0)
    described_by = re.search(r'aria-describedby="([^"]*)"', widget).group(1).split()
    assert 'aria-invalid="true"' in widget and f"id_{field}_error" in described_by
    assert 'value="Mamani"' in page  # the rest of the input is still there
    assert User.objects.count() == users_before and not mail.outbox
    assert not events(AccessAction.USER_INVITED)


def test_when_the_invitation_cannot_be_sent_no_account_is_created(admin_client, settings):
    # A real SMTP connection to a port where nothing listens.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    response = admin_client.post(reverse("institutions:user_invite"), invite_data())
    assert response.status_code == 409
    assert "No se pudo enviar el correo de invitación" in response.content.decode()
    assert 'value="nueva.oficial"' in response.content.decode()
    assert not User.objects.filter(username="nueva.oficial").exists()
    assert not events(AccessAction.USER_INVITED)


def test_a_new_invitation_replaces_the_previous_link(admin_client):
    admin_client.post(reverse("institutions:user_invite"), invite_data())
    invited = User.objects.get(username="nueva.oficial")
    response = admin_client.post(action_url("institutions:user_invitation_resend", invited))
    assert response.status_code == 302
    assert "Se envió una nueva invitación a rmamani@pdi.cl" in admin_client.get(response.url).content.decode()
    first, second = (re.search(r"http://testserver(/cuenta/activar/\S+)", m.body).group(1) for m in mail.outbox)
    assert first != second
    anonymous = Client()
    assert "El enlace no es válido" in anonymous.get(first, follow=True).content.decode()
    assert "Crear su contraseña" in anonymous.get(second, follow=True).content.decode()
    assert [e.details.get("resent") for e in events(AccessAction.USER_INVITED)] == [None, True]


def test_a_member_who_already_has_a_password_needs_no_invitation(admin_client, member):
    response = admin_client.post(action_url("institutions:user_invitation_resend", member))
    assert response.status_code == 409
    assert "ya creó su contraseña" in response.content.decode()
    assert not mail.outbox


# --- changing the role ---------------------------------------------------------------------------


def test_changing_a_role_takes_effect_and_is_audited(admin_client, admin, member):
    response = admin_client.post(action_url("institutions:user_role", member), {"role": Role.CASE_OFFICER})
    assert response.status_code == 302
    assert "Luis Araya ahora tiene el rol «Oficial de casos»" in admin_client.get(response.url).content.decode()
    member.refresh_from_db()
    assert member.role == Role.CASE_OFFICER
    (event,) = events(AccessAction.USER_ROLE_CHANGED)
    assert event.actor_id == admin.pk
    assert event.details == {"user_id": member.pk, "previous_role": Role.READER, "role": Role.CASE_OFFICER}


def test_an_invalid_role_is_refused_next_to_the_field(admin_client, member):
    response = admin_client.post(action_url("institutions:user_role", member), {"role": "superusuario"})
    assert response.status_code == 400
    assert "Escoja una opción válida" in response.content.decode()
    member.refresh_from_db()
    assert member.role == Role.READER


def test_an_administrator_cannot_remove_their_own_administrator_role(admin_client, admin):
    response = admin_client.post(action_url("institutions:user_role", admin), {"role": Role.READER})
    assert response.status_code == 409
    page = response.content.decode()
    assert "No puede quitarse a sí mismo el rol de administrador" in page
    assert 'aria-invalid="true"' in page
    admin.refresh_from_db()
    assert admin.role == Role.INSTITUTION_ADMIN
    assert not events(AccessAction.USER_ROLE_CHANGED)


def test_another_administrator_can_remove_an_administrator_role(admin_client, institution):
    colleague = UserFactory(institution=institution, role=Role.INSTITUTION_ADMIN)
    admin_client.post(action_url("institutions:user_role", colleague), {"role": Role.CASE_OFFICER})
    colleague.refresh_from_db()
    assert colleague.role == Role.CASE_OFFICER


# --- deactivating and reactivating --------------------------------------------------------------


def test_deactivation_asks_for_confirmation_first(admin_client, member):
    page = admin_client.get(action_url("institutions:user_deactivate", member)).content.decode()
    assert "Desactivar la cuenta de Luis Araya" in page and "sesiones abiertas se cerrarán" in page
    assert 'name="csrfmiddlewaretoken"' in page
    member.refresh_from_db()
    assert member.is_active


def test_deactivating_a_member_signs_them_out_everywhere_at_once(admin_client, admin, member):
    phone, laptop = signed_in(member), signed_in(member)
    assert len(sessions_of(member)) == 2

    response = admin_client.post(action_url("institutions:user_deactivate", member))
    assert response.status_code == 302
    assert "Se desactivó la cuenta de Luis Araya" in admin_client.get(response.url).content.decode()
    member.refresh_from_db()
    assert not member.is_active
    assert sessions_of(member) == []
    for browser in (phone, laptop):
        answer = browser.get(reverse("cases:list"))
        assert answer.status_code == 302 and answer.url.startswith(reverse("login"))
    # Nor can they sign in again.
    login = Client().post(reverse("login"), {"username": member.username, "password": PASSWORD})
    assert login.status_code == 200 and "_auth_user_id" not in login.client.session
    (event,) = events(AccessAction.USER_DEACTIVATED)
    assert event.actor_id == admin.pk and event.details == {"user_id": member.pk, "sessions_ended": 2}
    # The administrator's own session is untouched.
    assert admin_client.get(reverse("institutions:user_list")).status_code == 200


def test_a_reactivated_member_signs_in_again_but_the_old_sessions_stay_closed(admin_client, member):
    old_session = signed_in(member)
    admin_client.post(action_url("institutions:user_deactivate", member))
    response = admin_client.post(action_url("institutions:user_reactivate", member))
    assert response.status_code == 302
    assert "Se reactivó la cuenta de Luis Araya" in admin_client.get(response.url).content.decode()
    member.refresh_from_db()
    assert member.is_active
    assert old_session.get(reverse("home")).status_code == 302
    fresh = Client()
    assert fresh.post(reverse("login"), {"username": member.username, "password": PASSWORD}).status_code == 302
    assert len(events(AccessAction.USER_REACTIVATED)) == 1


def test_an_administrator_cannot_deactivate_themselves(admin_client, admin):
    page = admin_client.get(detail_url(admin)).content.decode()
    assert action_url("institutions:user_deactivate", admin) not in page  # not offered
    response = admin_client.post(action_url("institutions:user_deactivate", admin))
    assert response.status_code == 409
    assert "No puede desactivar su propia cuenta" in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active
    assert admin_client.get(reverse("institutions:user_list")).status_code == 200
    assert not events(AccessAction.USER_DEACTIVATED)


@pytest.mark.parametrize(
    ("action", "is_active", "message"),
    [
        ("institutions:user_deactivate", False, "La cuenta ya está desactivada."),
        ("institutions:user_reactivate", True, "La cuenta ya está activa."),
    ],
)
def test_a_transition_from_the_wrong_state_is_refused_in_spanish(admin_client, member, action, is_active, message):
    member.is_active = is_active
    member.save(update_fields=["is_active"])
    response = admin_client.post(action_url(action, member))
    assert response.status_code == 409 and message in response.content.decode()
    assert not AccessEvent.objects.filter(action__startswith="usuario_").exists()


def test_a_system_account_in_the_institution_is_not_administered_here(admin_client, institution):
    system = UserFactory(institution=institution, role=Role.READER, is_staff=True)
    response = admin_client.post(action_url("institutions:user_deactivate", system))
    assert response.status_code == 409 and "administración del sistema" in response.content.decode()
    system.refresh_from_db()
    assert system.is_active


# --- second factor ------------------------------------------------------------------------------


def test_resetting_the_second_factor_deletes_the_device_and_ends_the_sessions(admin_client, admin, member):
    browser = signed_in(member)  # force_login gives the member a confirmed device
    assert admin_client.get(detail_url(member)).context["member"].two_factor_enrolled
    page = admin_client.get(action_url("institutions:user_two_factor_reset", member)).content.decode()
    assert "Restablecer el segundo factor de Luis Araya" in page

    response = admin_client.post(action_url("institutions:user_two_factor_reset", member))
    assert response.status_code == 302
    assert "Se restableció el segundo factor de Luis Araya" in admin_client.get(response.url).content.decode()
    assert not TOTPDevice.objects.filter(user=member).exists()
    assert sessions_of(member) == []
    answer = browser.get(reverse("home"))
    assert answer.status_code == 302 and answer.url.startswith(reverse("login"))
    # The next login enrolls a new device.
    fresh = Client()
    fresh.post(reverse("login"), {"username": member.username, "password": PASSWORD})
    assert fresh.get(reverse("home")).url.startswith(reverse("two_factor_enroll"))
    (event,) = events(AccessAction.TWO_FACTOR_RESET)
    assert event.actor_id == admin.pk
    assert event.details == {"user_id": member.pk, "devices_deleted": 1, "sessions_ended": 1}


def test_without_its_device_a_session_no_longer_counts_as_verified(member):
    """What django-otp does on its own when a device disappears, and why the reset also ends the
    sessions: the session is not verified any more, but it is still signed in, on its way to
    enrolling a new device."""
    browser = signed_in(member)
    two_factor.reset(user=member)
    answer = browser.get(reverse("cases:list"))
    assert answer.status_code == 302 and answer.url.startswith(reverse("two_factor_enroll"))


def test_an_administrator_cannot_reset_their_own_second_factor(admin_client, admin):
    response = admin_client.post(action_url("institutions:user_two_factor_reset", admin))
    assert response.status_code == 409
    assert "No puede restablecer su propio segundo factor" in response.content.decode()
    assert TOTPDevice.objects.filter(user=admin, confirmed=True).exists()
    assert admin_client.get(reverse("home")).status_code == 200


# --- lockout ------------------------------------------------------------------------------------


def test_unlocking_lets_a_locked_member_sign_in_before_the_fifteen_minutes(admin_client, admin, member):
    bad_logins(member.username, ip="10.0.0.7")
    locked = Client().post(
        reverse("login"), {"username": member.username, "password": PASSWORD}, REMOTE_ADDR="10.0.0.7"
    )
    assert locked.status_code == 429
    page = admin_client.get(detail_url(member)).content.decode()
    assert "Sí, por intentos fallidos de ingreso" in page and "Desbloquear la cuenta" in page

    response = admin_client.post(action_url("institutions:user_unlock", member))
    assert response.status_code == 302
    followed = admin_client.get(response.url)
    assert "Se desbloqueó la cuenta de Luis Araya" in followed.content.decode()
    assert not followed.context["member"].locked_out
    assert not AccessAttempt.objects.filter(username=member.username).exists()
    again = Client().post(reverse("login"), {"username": member.username, "password": PASSWORD}, REMOTE_ADDR="10.0.0.7")
    assert again.status_code == 302
    (event,) = events(AccessAction.USER_UNLOCKED)
    assert event.actor_id == admin.pk and event.details == {"user_id": member.pk, "attempts_cleared": 1}


# --- requests and the audit trail ---------------------------------------------------------------


@pytest.mark.parametrize("name", ACCOUNT_ACTIONS)
def test_every_change_is_a_post_with_the_csrf_token(admin, member, name):
    browser = VerifiedClient(enforce_csrf_checks=True)
    browser.force_login(admin)
    assert browser.post(action_url(name, member), {"role": Role.CASE_OFFICER}).status_code == 403
    member.refresh_from_db()
    assert member.is_active and member.role == Role.READER
    if name not in {"institutions:user_deactivate", "institutions:user_two_factor_reset"}:
        assert browser.get(action_url(name, member)).status_code == 405  # a link never changes anything


def test_the_audit_trail_of_these_actions_names_no_person(admin_client, member):
    bad_logins(member.username)
    admin_client.post(action_url("institutions:user_role", member), {"role": Role.CASE_OFFICER})
    admin_client.post(action_url("institutions:user_unlock", member))
    admin_client.post(action_url("institutions:user_two_factor_reset", member))
    admin_client.post(action_url("institutions:user_deactivate", member))
    admin_client.post(action_url("institutions:user_reactivate", member))
    admin_client.post(reverse("institutions:user_invite"), invite_data())
    recorded = AccessEvent.objects.filter(
        action__in=[a.value for a in AccessAction if a.name.startswith(("USER", "TWO"))]
    )
    assert recorded.count() == 6
    details = json.dumps([event.details for event in recorded], ensure_ascii=False)
    for identity in ["lector.pdi", "Luis", "Araya", "laraya@pdi.cl", "nueva.oficial", "Rosa", "Mamani", "rmamani"]:
        assert identity not in details


# --- query counts -------------------------------------------------------------------------------

# The session, the user with their institution, the session's verified device, and the
# header's count of unread notifications.
REQUEST = 4
# The total count, then the page of members with their second factor and lockout state.
USER_LIST_QUERIES = REQUEST + 2
# The member with the same two states.
USER_DETAIL_QUERIES = REQUEST + 1


def _members(institution, count: int) -> list[User]:
    members = UserFactory.create_batch(count, institution=institution, role=Role.READER)
    for index, member in enumerate(members):
        if index % 2:
            verified_device(member)
        if index % 3 == 0:
            AccessAttempt.objects.create(
                username=member.username, ip_address="10.0.0.1", user_agent="x", failures_since_start=5
            )
    return members


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("count", [3, 30])
def test_the_user_list_takes_the_same_queries_for_3_or_30_members(admin_client, institution, count):
    _members(institution, count)
    _members(InstitutionFactory(), 5)  # not listed: must not change anything
    url = reverse("institutions:user_list")
    admin_client.get(url)  # the session's first write happens here, not in the measured request
    assert _queries(admin_client, url) == USER_LIST_QUERIES


def test_the_user_detail_takes_a_fixed_number_of_queries(admin_client, institution):
    member = _members(institution, 3)[0]
    admin_client.get(detail_url(member))
    assert _queries(admin_client, detail_url(member)) == USER_DETAIL_QUERIES
