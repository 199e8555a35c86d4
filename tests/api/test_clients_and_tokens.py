"""Machine clients and their tokens (ADR 0005): the token endpoint, what is stored, how a client
is cut off, which routes refuse what, and the audit of identity read through the API."""

from __future__ import annotations

import datetime
import hashlib
import io
import re
import uuid

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import AccessToken

from api.models import ApiClient
from api.services import api_client_create, api_client_revoke
from cases.models import CaseOffender
from config.api_urls import urlpatterns as api_urlpatterns
from institutions.constants import Role
from institutions.models import User
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.api.conftest import ALL_SCOPES, basic, machine_for, obtain_token
from tests.factories import CaseFactory, OffenderFactory, VictimFactory
from victims.models import CaseVictim

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    return body


def assert_bearer_challenge(response) -> None:
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer "), response.get("WWW-Authenticate")
    assert 'realm="api"' in response["WWW-Authenticate"]


# --- the token endpoint -------------------------------------------------------------------------


def test_the_right_secret_gets_a_bearer_token_that_expires(institution, settings):
    new = api_client_create(institution=institution, name="BRAIN", scopes=["cases:read"])
    response = obtain_token(Client(), new.client.client_id, new.client_secret)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"]
    assert body["expires_in"] == settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert "refresh_token" not in body  # client credentials: a new token is asked for instead
    assert response["Cache-Control"] == "no-store"


def test_the_wrong_secret_is_refused(institution):
    new = api_client_create(institution=institution, name="BRAIN", scopes=["cases:read"])
    response = obtain_token(Client(), new.client.client_id, new.client_secret + "x")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


def test_an_unknown_client_is_refused(db):
    response = obtain_token(Client(), "no-such-client", "whatever")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "asked", ["cases:read identity:read", "identity:read", "cases:read admin"], ids=["one-more", "other", "unknown"]
)
def test_a_scope_outside_the_allowed_ones_is_refused(institution, asked):
    new = api_client_create(institution=institution, name="BRAIN", scopes=["cases:read", "cases:write"])
    response = obtain_token(Client(), new.client.client_id, new.client_secret, scope=asked)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert not AccessToken.objects.exists()


def test_a_token_asked_without_scope_carries_exactly_the_allowed_scopes(institution):
    allowed = {"cases:read", "identity:read"}
    new = api_client_create(institution=institution, name="BRAIN", scopes=sorted(allowed))
    response = obtain_token(Client(), new.client.client_id, new.client_secret)
    assert response.status_code == 200
    assert set(response.json()["scope"].split()) == allowed
    assert set(AccessToken.objects.get().scope.split()) == allowed


def test_a_token_asked_for_fewer_scopes_carries_only_those(institution):
    new = api_client_create(institution=institution, name="BRAIN", scopes=ALL_SCOPES)
    response = obtain_token(Client(), new.client.client_id, new.client_secret, scope="cases:read")
    assert response.status_code == 200
    assert AccessToken.objects.get().scope == "cases:read"


# --- what is stored -----------------------------------------------------------------------------


def test_the_access_token_is_stored_only_as_its_checksum(institution):
    machine = machine_for(institution)
    row = AccessToken.objects.get()
    assert row.token == ""
    assert row.token_checksum == hashlib.sha256(machine.token.encode()).hexdigest()
    assert row.application.client_id == machine.client_id
    assert machine.get(reverse("api:institution_list")).status_code == 200  # found by its checksum


def test_the_client_secret_is_stored_as_a_hash(institution):
    new = api_client_create(institution=institution, name="BRAIN", scopes=["cases:read"])
    stored = ApiClient.objects.get(pk=new.client.pk).client_secret
    assert stored != new.client_secret
    assert new.client_secret not in stored
    assert check_password(new.client_secret, stored)
    assert not check_password(new.client_secret + "x", stored)


def _rows_containing(text: str) -> list[str]:
    """Every table of the database with a row whose text form contains ``text``."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT 1 FROM {quoted} AS t WHERE strpos(t::text, %s) > 0 LIMIT 1", [text])  # noqa: S608
            if cursor.fetchone():
                found.append(table)
    return found


def test_neither_the_secret_nor_the_token_is_anywhere_in_the_database(institution):
    machine = machine_for(institution)
    assert machine.get(reverse("api:case_list")).status_code == 200
    # The check itself finds what is there: the client_id is stored in clear.
    assert ApiClient._meta.db_table in _rows_containing(machine.client_id)
    assert _rows_containing(machine.client_secret) == []
    assert _rows_containing(machine.token) == []


# --- cutting a client off -----------------------------------------------------------------------


def _revoke_at_the_endpoint(machine):
    response = Client().post(
        "/o/revoke_token/",
        {"token": machine.token, "token_type_hint": "access_token"},
        HTTP_AUTHORIZATION=basic(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 200, response.content


def _revoke_the_client(machine):
    api_client_revoke(client=ApiClient.objects.get(client_id=machine.client_id))
    assert not AccessToken.objects.filter(application__client_id=machine.client_id).exists()


def _deactivate_the_service_user(machine):
    User.objects.filter(pk=machine.user.pk).update(is_active=False)


def _deactivate_the_institution(machine):
    type(machine.user.institution).objects.filter(pk=machine.user.institution_id).update(is_active=False)


def _expire_the_token(machine):
    AccessToken.objects.filter(application__client_id=machine.client_id).update(
        expires=timezone.now() - datetime.timedelta(seconds=1)
    )


@pytest.mark.parametrize(
    "cut_off",
    [
        _revoke_at_the_endpoint,
        _revoke_the_client,
        _deactivate_the_service_user,
        _deactivate_the_institution,
        _expire_the_token,
    ],
    ids=["revoke-endpoint", "api_client_revoke", "service-user-inactive", "institution-inactive", "expired"],
)
def test_a_client_cut_off_gets_401_at_once(institution, cut_off):
    machine = machine_for(institution)
    assert machine.get(reverse("api:case_list")).status_code == 200
    cut_off(machine)
    assert_bearer_challenge(machine.get(reverse("api:case_list")))


@pytest.mark.parametrize(
    "cut_off",
    [_revoke_the_client, _deactivate_the_service_user, _deactivate_the_institution],
    ids=["api_client_revoke", "service-user-inactive", "institution-inactive"],
)
def test_a_client_cut_off_gets_no_new_token(institution, cut_off):
    """A revoked client is refused at the token endpoint too, not handed a token that opens
    nothing (DOT asks ApiClient.is_usable when it authenticates the client)."""
    machine = machine_for(institution)
    cut_off(machine)
    AccessToken.objects.all().delete()
    response = obtain_token(Client(), machine.client_id, machine.client_secret)
    if response.status_code == 200:  # whatever the token endpoint says, such a token opens nothing
        token = response.json()["access_token"]
        assert_bearer_challenge(Client().get(reverse("api:case_list"), HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


def test_revoking_a_token_leaves_the_other_clients_working(institution):
    first, second = machine_for(institution, name="Uno"), machine_for(institution, name="Dos")
    _revoke_at_the_endpoint(first)
    assert_bearer_challenge(first.get(reverse("api:case_list")))
    assert second.get(reverse("api:case_list")).status_code == 200


def test_a_token_in_the_query_string_is_not_accepted(institution):
    machine = machine_for(institution)
    response = Client().get(reverse("api:case_list"), {"access_token": machine.token})
    assert_bearer_challenge(response)


# --- every route refuses a request without a valid token ----------------------------------------

API_ROUTES = [pattern for pattern in api_urlpatterns if pattern.name not in ("schema", "docs")]
SAMPLE_PATH_VALUES = {
    "case_id": 1,
    "victim_id": uuid.UUID(int=1),
    "offender_id": uuid.UUID(int=2),
    "source": "pdi-parte",
    "reference": "PARTE-1",
    "activation_id": uuid.UUID(int=3),
    "referral_id": uuid.UUID(int=4),
    "application_id": uuid.UUID(int=5),
}
WRITE_METHODS = ("post", "put", "patch")


def _methods(pattern) -> list[str]:
    view = pattern.callback.cls
    return [method for method in ("get", "post", "put", "patch", "delete") if hasattr(view, method)]


def route_path(name: str, **values) -> str:
    pattern = next(pattern for pattern in API_ROUTES if pattern.name == name)
    kwargs = {key: values.get(key, SAMPLE_PATH_VALUES[key]) for key in pattern.pattern.converters}
    return reverse(f"api:{name}", kwargs=kwargs)


def call(http, method: str, path: str, body: str = "{}", **headers):
    if method in WRITE_METHODS:
        return getattr(http, method)(path, body, content_type="application/json", **headers)
    return getattr(http, method)(path, **headers)


ROUTE_METHODS = [
    pytest.param(pattern.name, method, id=f"{method.upper()}-{pattern.name}")
    for pattern in API_ROUTES
    for method in _methods(pattern)
]


def test_the_route_matrix_covers_every_api_route():
    names = {pattern.name for pattern in API_ROUTES}
    assert len(names) == len(API_ROUTES) >= 11
    assert {"case_list", "case_bulk", "case_by_ref", "victim_identity", "offender_identity"} <= names
    assert all(_methods(pattern) for pattern in API_ROUTES)
    assert {("case_by_ref", "put"), ("case_detail", "patch"), ("case_bulk", "post")} <= {
        (param.values[0], param.values[1]) for param in ROUTE_METHODS
    }


@pytest.mark.parametrize(("name", "method"), ROUTE_METHODS)
def test_every_route_without_a_token_is_a_401_problem(db, name, method):
    response = call(Client(), method, route_path(name))
    body = assert_problem(response, 401)
    assert body["title"] == "Se requiere autenticación"
    assert response["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(("name", "method"), ROUTE_METHODS)
@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", f"Bearer {'a' * 30}"],
    ids=["garbage", "empty", "basic", "made-up"],
)
def test_every_route_with_a_garbage_token_is_a_401_problem(db, name, method, authorization):
    response = call(Client(), method, route_path(name), HTTP_AUTHORIZATION=authorization)
    assert_bearer_challenge(response)


# --- scopes -------------------------------------------------------------------------------------


@pytest.fixture
def world(institution):
    """A case led by the client's institution, with a victim and an offender."""
    case = CaseFactory(lead_institution=institution)
    victim = VictimFactory(registering_institution=institution)
    CaseVictim.objects.create(case=case, victim=victim)
    offender = OffenderFactory()
    CaseOffender.objects.create(case=case, offender=offender)
    return {"case_id": case.pk, "victim_id": victim.pk, "offender_id": offender.pk, "version": case.version}


def _body(name: str) -> str:
    if name == "case_detail":
        return '{"intake_date": "2024-01-11"}'
    if name == "case_by_ref":
        return '{"intake_date": "2024-01-10"}'
    if name == "case_bulk":
        return '{"items": [{"source": "pdi-parte", "reference": "PARTE-9", "case": {"intake_date": "2024-01-10"}}]}'
    return "{}"


SCOPE_REFUSALS = [
    ("case_by_ref", "put", ["cases:read"]),
    ("case_detail", "patch", ["cases:read"]),
    ("case_bulk", "post", ["cases:read", "identity:read"]),
    ("case_list", "get", ["cases:write"]),
    ("case_detail", "get", ["identity:read"]),
    ("victim_identity", "get", ["cases:read"]),
    ("victim_identity", "get", ["cases:read", "cases:write", "identity:write"]),
    ("victim_identity", "get", ["identity:read"]),
    ("offender_identity", "get", ["cases:read", "cases:write"]),
    ("offender_identity", "get", ["identity:read"]),
]


@pytest.mark.parametrize(
    ("name", "method", "scopes"),
    [
        pytest.param(*refusal, id=f"{refusal[1].upper()}-{refusal[0]}-{'+'.join(refusal[2])}")
        for refusal in SCOPE_REFUSALS
    ],
)
def test_a_token_without_the_needed_scope_is_a_403_problem(world, institution, name, method, scopes):
    path = route_path(name, **world)
    headers = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    narrow = machine_for(institution, scopes=scopes, name="Estrecho")
    body = assert_problem(call(narrow.http, method, path, _body(name), **narrow.headers(**headers)), 403)
    assert body["title"] == "Acción no permitida"
    assert not AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).exists()
    # The same request with every scope goes through: the scope was the only thing missing.
    full = machine_for(institution, scopes=ALL_SCOPES, name="Completo")
    response = call(full.http, method, path, _body(name), **full.headers(**headers))
    assert response.status_code in (200, 201), response.content


# --- the service user ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "role"),
    [
        (["cases:read"], Role.READER),
        (["cases:read", "identity:read"], Role.READER),
        (["cases:read", "cases:write"], Role.CASE_OFFICER),
        (["cases:write"], Role.CASE_OFFICER),
        (["cases:read", "identity:write"], Role.CASE_OFFICER),
    ],
)
def test_the_service_user_role_follows_the_scopes(institution, scopes, role):
    new = api_client_create(institution=institution, name="BRAIN", scopes=scopes)
    user = User.objects.get(pk=new.client.user_id)
    assert user.role == role
    assert user.is_api_client and user.is_active
    assert user.institution_id == institution.pk
    assert set(new.client.allowed_scopes.split()) == set(scopes)


def test_a_reader_client_may_read_but_not_write(institution):
    reader = machine_for(institution, scopes=["cases:read"])
    assert reader.get(reverse("api:case_list")).status_code == 200
    assert_problem(reader.put(route_path("case_by_ref"), {"intake_date": "2024-01-10"}), 403)


@pytest.mark.parametrize("password", ["secret", "", "clave-de-prueba-segura"])
def test_the_service_user_cannot_sign_in_on_the_web(institution, password):
    new = api_client_create(institution=institution, name="BRAIN", scopes=ALL_SCOPES)
    user = User.objects.get(pk=new.client.user_id)
    assert not user.has_usable_password()
    browser = Client()
    sent = new.client_secret if password == "secret" else password
    response = browser.post(reverse("login"), {"username": user.username, "password": sent})
    assert response.status_code != 302
    assert "_auth_user_id" not in browser.session
    assert browser.get(reverse("home")).status_code == 302  # still sent to the login page


def test_the_service_user_cannot_sign_in_even_if_a_password_was_set(institution):
    """Defence in depth: were a password ever given to a service user (by hand, in the admin),
    the login still refuses it, and a session forced on it is not honoured."""
    new = api_client_create(institution=institution, name="BRAIN", scopes=ALL_SCOPES)
    user = User.objects.get(pk=new.client.user_id)
    user.set_password("una-clave-larga-y-valida-2024")
    user.save(update_fields=["password"])
    browser = Client()
    response = browser.post(reverse("login"), {"username": user.username, "password": "una-clave-larga-y-valida-2024"})
    assert response.status_code != 302
    assert "_auth_user_id" not in browser.session

    forced = Client()
    forced.force_login(user)
    assert forced.get(reverse("home")).status_code == 302  # the backend does not load a service user
    assert_bearer_challenge(forced.get(reverse("api:case_list")))  # nor does the API take it as a session


# --- the management command ---------------------------------------------------------------------


def test_create_api_client_prints_the_client_id_and_the_secret_once(institution):
    out = io.StringIO()
    call_command(
        "create_api_client", institution="pdi", name="Sistema BRAIN", scopes=["cases:read", "cases:write"], stdout=out
    )
    printed = out.getvalue()
    client_id = re.search(r"^client_id=(\S+)$", printed, re.MULTILINE).group(1)
    secret = re.search(r"^client_secret=(\S+)$", printed, re.MULTILINE).group(1)
    assert printed.count(secret) == 1
    client = ApiClient.objects.get(client_id=client_id)
    assert client.name == "Sistema BRAIN"
    assert client.user.institution_id == institution.pk and client.user.role == Role.CASE_OFFICER
    assert set(client.allowed_scopes.split()) == {"cases:read", "cases:write"}
    assert check_password(secret, client.client_secret) and secret not in client.client_secret
    assert obtain_token(Client(), client_id, secret).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"institution": "PDI", "scopes": ["cases:read", "cases:delete"]}, "cases:delete"),
        ({"institution": "PDI", "scopes": ["admin"]}, "admin"),
        ({"institution": "NOEXISTE", "scopes": ["cases:read"]}, "NOEXISTE"),
    ],
    ids=["unknown-scope", "only-unknown-scope", "unknown-institution"],
)
def test_create_api_client_refuses_bad_input(institution, options, message):
    out = io.StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("create_api_client", name="Sistema BRAIN", stdout=out, **options)
    assert "client_secret" not in out.getvalue()
    assert not ApiClient.objects.exists()
    assert not User.objects.filter(is_api_client=True).exists()


def test_create_api_client_refuses_an_inactive_institution(institution):
    institution.is_active = False
    institution.save(update_fields=["is_active"])
    with pytest.raises(CommandError):
        call_command("create_api_client", institution="PDI", name="X", scopes=["cases:read"], stdout=io.StringIO())
    assert not ApiClient.objects.exists()


def test_revoke_api_client_cuts_the_client_off(institution):
    machine = machine_for(institution)
    out = io.StringIO()
    call_command("revoke_api_client", machine.client_id, stdout=out)
    assert machine.client_id in out.getvalue()
    assert not AccessToken.objects.exists()
    assert not User.objects.get(pk=machine.user.pk).is_active
    assert_bearer_challenge(machine.get(reverse("api:case_list")))


def test_revoke_api_client_refuses_an_unknown_client(institution):
    machine = machine_for(institution)
    with pytest.raises(CommandError, match="no-such-client"):
        call_command("revoke_api_client", "no-such-client", stdout=io.StringIO())
    assert machine.get(reverse("api:case_list")).status_code == 200


# --- identity read through the API is audited ---------------------------------------------------


def test_reading_a_victims_identity_is_audited_with_the_client(world, institution):
    machine = machine_for(institution, scopes=["cases:read", "identity:read"])
    response = machine.get(route_path("victim_identity", **world))
    assert response.status_code == 200, response.content
    assert response.json()["given_names"] == "Ana"
    event = AccessEvent.objects.get(action=AccessAction.IDENTITY_READ)
    assert event.client_id == machine.client_id
    assert event.actor_id == machine.user.pk and event.actor_username == machine.user.username
    assert event.institution_id == institution.pk
    assert event.victim_code == CaseVictim.objects.get(victim_id=world["victim_id"]).victim.code
    assert event.ip_address == "127.0.0.1"
    assert "Ana" not in str(event.details)


def test_reading_an_offenders_identity_is_audited_with_the_client(world, institution):
    machine = machine_for(institution, scopes=["cases:read", "identity:read"])
    response = machine.get(route_path("offender_identity", **world))
    assert response.status_code == 200, response.content
    assert response.json()["given_names"] == "Juan"
    event = AccessEvent.objects.get(action=AccessAction.IDENTITY_READ)
    assert event.client_id == machine.client_id
    assert event.actor_id == machine.user.pk and event.actor_username == machine.user.username
    assert event.case_id == world["case_id"]
    assert event.details["offender_code"] == CaseOffender.objects.get(case_id=world["case_id"]).offender.code


def test_reading_without_identity_is_not_an_identity_event(world, institution):
    machine = machine_for(institution, scopes=["cases:read", "identity:read"])
    assert machine.get(route_path("case_detail", **world)).status_code == 200
    assert machine.get(route_path("victim_detail", **world)).status_code == 200
    assert not AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).exists()


def test_client_secrets_are_hashed_without_key_stretching_so_wrong_secrets_cost_no_cpu(institution):
    # A secret is 128 random characters: a thousand PBKDF2 rounds, not the million of passwords,
    # or every wrong secret on /o/token/ would cost ~180 ms of CPU (api/hashers.py).
    from api.services import api_client_create

    new = api_client_create(institution=institution, name="Hash", scopes=["cases:read"])
    stored = ApiClient.objects.get(pk=new.client.pk).client_secret
    assert stored.startswith("pbkdf2_sha256_client_secret$1000$") and new.client_secret not in stored
