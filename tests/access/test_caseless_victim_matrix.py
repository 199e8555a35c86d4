"""The access matrix of a victim with no case (Protocolo de Atención), and of sharing it.

Such a victim belongs to the institution that registered it, which holds over it what a lead
holds over a case (ver, ver identidad, colaborar, administrar) and shares it (victims.sharing).
The scenario: a victim registered with no case by ``registering``, with a consent, shared at
*ver* (``shared_ver``), with identity on a stated legal basis (``shared_identity``) and to
collaborate (``shared_collaborate``); ``unrelated`` holds nothing. Each relation has one user
per role (lector, oficial, administrador), plus staff, superuser and anonymous.

The rules are test_access_matrix.py's: not visible → 404 (never 403), and the same bytes as for
an object that does not exist; visible but not allowed → 403; allowed → the route's success
codes. Write probes send an empty or invalid body, so an allowed one ends refused as input (400)
and a refused one changes nothing. This module defines MATRIX; test_access_matrix.py counts its
routes as covered (OTHER_MATRICES).
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse

from institutions.constants import Role
from kernel.choices import Sex
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from protocol.models import ProtocolActivation
from tests.access.scenario import ROLES, application_routes, make_users
from tests.access.test_access_matrix import (
    DENIED,
    HIDDEN,
    LOGIN,
    OK,
    REFUSED_INPUT,
    UNAUTHENTICATED,
    Probe,
    acceptable,
    nonexistent,
    request,
)
from tests.factories import valid_run
from victims.consent import consent_record
from victims.models import CaseVictim, Victim, VictimConsent, VictimShare
from victims.services import victim_register
from victims.sharing import victim_share

RELATIONS = ("registering", "shared_ver", "shared_identity", "shared_collaborate", "unrelated")
MEMBERS = tuple(f"{relation}-{role}" for relation in RELATIONS for role in ROLES)
SUBJECTS = (*MEMBERS, "staff", "superuser", "anonymous")
VISIBLE = frozenset({"registering", "shared_ver", "shared_identity", "shared_collaborate"})
WITH_IDENTITY = frozenset({"registering", "shared_identity"})
OFFICER = Role.CASE_OFFICER.value
LEGAL_BASIS = "Oficio 77/2025 del Juzgado de Familia de Arica"
SHARES = {
    "shared_ver": {},
    "shared_identity": {"can_view_identity": True, "legal_basis": LEGAL_BASIS},
    "shared_collaborate": {"can_collaborate": True},
}


class CaselessScenario:
    def __init__(self) -> None:
        self.institutions, self.users = make_users(RELATIONS)
        officer = self.users[f"registering-{OFFICER}"]
        victim = victim_register(
            actor=officer,
            institution=self.institutions["registering"],
            given_names="Eulogia",
            surnames="Choque Flores",
            document_type="run",
            document_number=valid_run(18_223_344),
            sex=Sex.FEMALE,
            nationality="PE",
        )
        self.victim_id, self.victim_code = victim.pk, victim.code
        self.consent_id = consent_record(
            actor=officer, victim_id=victim.pk, given_on=datetime.date(2025, 2, 1), scope="Con el servicio de salud"
        ).pk
        self.share_ids = {
            relation: victim_share(
                actor=officer,
                victim_id=victim.pk,
                institution=self.institutions[relation],
                reason="Atención coordinada",
                **grants,
            ).pk
            for relation, grants in SHARES.items()
        }


# --- rules: (relation, role) → expected answer --------------------------------------------------


def sees_the_victim(relation: str, role: str):
    return OK if relation in VISIBLE else HIDDEN


def reads_identity(relation: str, role: str):
    if relation in WITH_IDENTITY:
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def identity_officer_writes(relation: str, role: str):
    if relation in WITH_IDENTITY and role == OFFICER:
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def registering_reads(relation: str, role: str):
    """The grants of the victim are the registering institution's to see (administrar)."""
    if relation == "registering":
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def registering_officer_writes(relation: str, role: str):
    if relation == "registering" and role == OFFICER:
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def expected(rule, *, api: bool = False) -> dict[str, object]:
    table = {f"{relation}-{role}": rule(relation, role) for relation in RELATIONS for role in ROLES}
    table["staff"] = table["superuser"] = HIDDEN  # no institution, no grant: being superuser opens nothing
    table["anonymous"] = UNAUTHENTICATED if api else LOGIN
    return table


def _victim(s: CaselessScenario) -> dict:
    return {"victim_id": s.victim_id}


def _share_at_ver(s: CaselessScenario) -> dict:
    return {"victim_id": s.victim_id, "share_id": s.share_ids["shared_ver"]}


MATRIX: dict[str, list[Probe]] = {
    "victims:detail": [Probe("GET", _victim, expected(sees_the_victim))],
    "victims:identity": [Probe("POST", _victim, expected(reads_identity))],
    "victims:consent_record": [
        Probe("POST", _victim, expected(identity_officer_writes), ok=REFUSED_INPUT, label="empty"),
    ],
    "victims:share": [
        Probe("GET", _victim, expected(registering_reads)),
        Probe("POST", _victim, expected(registering_officer_writes), ok=REFUSED_INPUT, label="empty"),
        Probe(
            "POST",
            _victim,
            expected(registering_officer_writes),
            body=lambda s: {"institution": s.institutions["unrelated"].pk, "reason": ""},
            ok=REFUSED_INPUT,
            label="without-reason",
        ),
        Probe(
            "POST",
            _victim,
            expected(registering_officer_writes),
            body=lambda s: {"institution": s.institutions["unrelated"].pk, "reason": "R", "can_view_identity": "on"},
            ok=REFUSED_INPUT,
            label="identity-without-basis",
        ),
        Probe(
            "POST",
            _victim,
            expected(registering_officer_writes),
            body=lambda s: {"institution": s.institutions["registering"].pk, "reason": "R"},
            ok=REFUSED_INPUT,
            label="to-itself",
        ),
    ],
    "victims:unshare": [
        Probe("POST", _share_at_ver, expected(registering_officer_writes), ok=REFUSED_INPUT, label="empty"),
    ],
    "api:victim_detail": [Probe("GET", _victim, expected(sees_the_victim, api=True))],
    "api:victim_identity": [Probe("GET", _victim, expected(reads_identity, api=True))],
}

CASES = [
    pytest.param(route, probe, subject, id=f"{route}|{probe.title}|{subject}")
    for route, probes in MATRIX.items()
    for probe in probes
    for subject in SUBJECTS
]


@pytest.fixture(scope="module")
def scenario(module_transaction) -> CaselessScenario:
    return CaselessScenario()


def state() -> dict:
    """Everything a refused request must leave as it was."""
    return {
        "shares": sorted(
            VictimShare.objects.values_list(
                "id", "institution_id", "can_view_identity", "can_collaborate", "revoked_at"
            )
        ),
        "consents": sorted(VictimConsent.objects.values_list("id", "withdrawn_on")),
        "victims": sorted(Victim.objects.values_list("code", "version", "registering_institution_id")),
        "victim_links": CaseVictim.objects.count(),
        "activations": ProtocolActivation.objects.count(),
    }


SIGN_IN_ACTIONS = (AccessAction.LOGIN, AccessAction.LOGOUT, AccessAction.TWO_FACTOR_VERIFIED)


def case_content_events() -> int:
    """Access-log events about content (identity reads, shares), not the signing in of a subject."""
    return AccessEvent.objects.exclude(action__in=SIGN_IN_ACTIONS).count()


NONCE = re.compile(rb'nonce="[^"]*"')


CSRF_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


def _bytes(response) -> bytes:
    """The page, but for what differs on every render whatever the object (the CSP nonce and the
    masked CSRF token of the header's logout form)."""
    return CSRF_TOKEN.sub(b'name="csrfmiddlewaretoken" value=""', NONCE.sub(b'nonce=""', response.content))


# --- the matrix's own checks ------------------------------------------------------------------


def test_the_matrix_names_only_routes_that_exist_and_covers_the_victim_sharing_routes():
    routes = {route.name for route in application_routes() if route.captures}
    assert set(MATRIX) <= routes, sorted(set(MATRIX) - routes)
    sharing = {name for name in routes if name.startswith("victims:") and "share" in name}
    assert sharing == {"victims:share", "victims:unshare"} and sharing <= set(MATRIX)


def test_each_matrix_entry_states_the_answer_for_every_subject_and_builds_the_routes_kwargs(scenario, db):
    routes = {route.name: route for route in application_routes()}
    for route, probes in MATRIX.items():
        assert probes, route
        for probe in probes:
            assert set(probe.expected) == set(SUBJECTS), (route, probe.title)
            assert probe.method in {"GET", "POST"}, (route, probe.title)
            kwargs = probe.kwargs(scenario)
            assert set(kwargs) == routes[route].kwargs, (route, probe.title)
            reverse(route, kwargs=kwargs)


def test_the_victim_has_no_case_and_each_share_is_active(scenario, db):
    assert not CaseVictim.objects.filter(victim_id=scenario.victim_id).exists()
    assert VictimShare.objects.filter(pk__in=scenario.share_ids.values(), revoked_at__isnull=True).count() == 3


# --- the matrix itself -----------------------------------------------------------------------


@pytest.mark.parametrize(("route", "probe", "subject"), CASES)
def test_each_route_answers_each_subject_as_the_access_model_says(client, scenario, db, route, probe, subject):
    kwargs = probe.kwargs(scenario)
    outcome = probe.expected[subject]
    before, events = state(), case_content_events()
    response = request(client, scenario, subject, route, probe, kwargs)
    assert response.status_code in acceptable(probe, outcome), (
        f"{probe.method} {route} as {subject}: expected {outcome} {sorted(acceptable(probe, outcome))}, "
        f"got {response.status_code}"
    )
    if outcome == LOGIN:
        assert response["Location"].startswith(reverse("login"))
    assert state() == before, f"{probe.method} {route} as {subject} changed the records"
    if outcome != OK:
        assert case_content_events() == events, f"{probe.method} {route} as {subject}: a refusal was logged"
    if outcome == HIDDEN:
        # 404 says nothing: the answer for an object that exists is the answer for one that does not.
        ghost = request(client, scenario, subject, route, probe, nonexistent(kwargs))
        assert ghost.status_code == response.status_code
        assert _bytes(ghost) == _bytes(response)


# --- what the matrix cannot express -----------------------------------------------------------


def test_the_registering_officer_shares_and_revokes_from_the_page(client, scenario, db):
    officer = scenario.users[f"registering-{OFFICER}"]
    client.force_login(officer)
    url = reverse("victims:share", kwargs={"victim_id": scenario.victim_id})
    unrelated = scenario.institutions["unrelated"]
    response = client.post(
        url,
        {
            "institution": unrelated.pk,
            "reason": "Derivación a salud",
            "can_view_identity": "on",
            "consent": scenario.consent_id,
        },
    )
    assert response.status_code == 302 and response["Location"] == url
    given = VictimShare.objects.get(institution=unrelated, revoked_at__isnull=True)
    assert given.can_view_identity and given.consent_id == scenario.consent_id
    grantee = scenario.users[f"unrelated-{Role.READER.value}"]
    client.force_login(grantee)
    assert client.post(reverse("victims:identity", kwargs={"victim_id": scenario.victim_id})).status_code == 200
    client.force_login(officer)
    page = client.get(url).content.decode()
    assert "Institución unrelated" not in page or unrelated.short_name in page
    revoke = reverse("victims:unshare", kwargs={"victim_id": scenario.victim_id, "share_id": given.pk})
    assert client.post(revoke, {"reason": "Terminó la atención"}).status_code == 302
    client.force_login(grantee)
    assert client.get(reverse("victims:detail", kwargs={"victim_id": scenario.victim_id})).status_code == 404


def test_a_refused_share_comes_back_with_the_error_on_its_field_and_what_was_typed(client, scenario, db):
    client.force_login(scenario.users[f"registering-{OFFICER}"])
    response = client.post(
        reverse("victims:share", kwargs={"victim_id": scenario.victim_id}),
        {"institution": scenario.institutions["unrelated"].pk, "reason": "Motivo escrito", "can_view_identity": "on"},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="legal_basis-error"' in body and 'aria-invalid="true"' in body
    assert 'value="Motivo escrito"' in body
    assert "<style" not in body and "<script>" not in body and " style=" not in body and " on" + "click=" not in body


def test_a_second_share_with_the_same_institution_answers_409_on_the_page(client, scenario, db):
    client.force_login(scenario.users[f"registering-{OFFICER}"])
    response = client.post(
        reverse("victims:share", kwargs={"victim_id": scenario.victim_id}),
        {"institution": scenario.institutions["shared_ver"].pk, "reason": "Otra vez"},
    )
    assert response.status_code == 409 and "Revoque el acceso para cambiarlo" in response.content.decode()


def test_the_victim_page_shows_the_sharing_section_to_the_registering_institution_only(client, scenario, db):
    url = reverse("victims:detail", kwargs={"victim_id": scenario.victim_id})
    share_url = reverse("victims:share", kwargs={"victim_id": scenario.victim_id})
    for subject in ("registering-lector", "registering-oficial", "registering-administrador"):
        client.force_login(scenario.users[subject])
        assert share_url in client.get(url).content.decode(), subject
    for relation in ("shared_ver", "shared_identity", "shared_collaborate"):
        client.force_login(scenario.users[f"{relation}-{OFFICER}"])
        assert share_url not in client.get(url).content.decode(), relation
