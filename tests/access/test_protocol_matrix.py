"""The access matrix of the Protocolo de Atención's pages (and the main matrix's rules:
tests/access/test_access_matrix.py, whose completeness check counts this module's MATRIX).

The subjects are the institutions around one victim's protocol, times each role:

- ``activating``: leads the victim's case, activated the protocol, referred the victim and
  derived them to Sermig;
- ``provider``: gives the service of an open referral (it sees no case);
- ``sermig``: the migration service, every user with the *oficial Sermig* flag (a lector and an
  administrator carry it too: the role still limits them);
- ``grantee``: sees the case (and so the victim and the activation) through a share at *ver*;
- ``unrelated``; plus staff, a superuser and anonymous.

Expected answers follow ../shared/access-model.md: not visible → 404, byte-identical to a
nonexistent object; visible but not allowed → 403; allowed → the route's success code. Write
probes send an empty body, so an allowed one ends refused as input (400) and a refused one
changes nothing. Every allowed identity read writes exactly one access-log event; a refused one
writes none.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.services import case_create
from cases.sharing import case_share
from institutions.constants import InstitutionKind, Role
from kernel.choices import Sex
from kernel.models import AccessEvent
from protocol.constants import ActivationAction, RequestedBy, ResidenceAction, ServiceType
from protocol.models import (
    Notification,
    ProtocolActivation,
    ProtocolTransition,
    Referral,
    ReferralTransition,
    ResidenceApplication,
    ResidenceTransition,
)
from protocol.referrals import referral_create
from protocol.residence import residence_derive, residence_transition
from protocol.services import activation_open, activation_transition
from tests.access.scenario import ROLES, application_routes, make_users
from tests.protocol.referral_helpers import ensure_service_deadlines
from victims.models import Victim
from victims.services import victim_link_to_case, victim_register

RELATIONS = ("activating", "provider", "sermig", "grantee", "unrelated")
MEMBERS = tuple(f"{relation}-{role}" for relation in RELATIONS for role in ROLES)
SUBJECTS = (*MEMBERS, "staff", "superuser", "anonymous")
OK, DENIED, HIDDEN, LOGIN = "ok", 403, 404, "login"
OFFICER = Role.CASE_OFFICER.value
REFUSED_INPUT = frozenset({400})


@dataclass
class ProtocolScenario:
    users: dict
    victim_id: uuid.UUID
    activation_id: uuid.UUID
    referral_id: uuid.UUID
    application_id: uuid.UUID


def build_protocol_scenario() -> ProtocolScenario:
    ensure_service_deadlines()
    institutions, users = make_users(RELATIONS)
    sermig = institutions["sermig"]
    sermig.kind = InstitutionKind.MIGRATION
    sermig.save()
    for role in ROLES:
        user = users[f"sermig-{role}"]
        user.is_sermig_officer = True
        user.save()
    officer = users[f"activating-{OFFICER}"]
    case = case_create(
        actor=None,
        lead_institution=institutions["activating"],
        data={"intake_date": datetime.date(2023, 3, 1), "purpose": "explotacion_sexual"},
    )
    victim = victim_register(
        actor=None,
        institution=institutions["activating"],
        given_names="Matilde",
        surnames="Ccori",
        sex=Sex.FEMALE,
        nationality="BO",
    )
    victim_link_to_case(actor=None, victim=victim, case=case)
    case_share(actor=officer, case_id=case.pk, institution=institutions["grantee"], reason="Coordinación")
    today = timezone.localdate()
    activation = activation_open(
        actor=officer,
        victim_id=victim.pk,
        requested_by=RequestedBy.THIRD_PARTY,
        requester_name="Tía Rosa",
        requester_contact="+56 9 1111 2222",
        requested_on=today,
        consent_on=today,
    )
    for action in (ActivationAction.EVALUATE, ActivationAction.ACTIVATE):
        activation_transition(actor=officer, activation_id=activation.pk, action=action)
    referral = referral_create(
        actor=officer,
        activation_id=activation.pk,
        service_type=ServiceType.SHELTER,
        provider_id=institutions["provider"].pk,
    )
    application = residence_derive(actor=officer, victim_id=victim.pk)
    for action in (ResidenceAction.RECEIVE, ResidenceAction.PROCESS):
        residence_transition(actor=users[f"sermig-{OFFICER}"], application_id=application.pk, action=action)
    return ProtocolScenario(
        users=users,
        victim_id=victim.pk,
        activation_id=activation.pk,
        referral_id=referral.pk,
        application_id=application.pk,
    )


# --- rules: (relation, role) → expected answer ------------------------------------------------


def rule(*, ok: dict[str, str], seen_by: frozenset[str]) -> Callable[[str, str], object]:
    """``ok``: relation → "any" (every role) or "officer" (case officers only). Relations in
    ``seen_by`` but not allowed get 403; everyone else 404."""

    def decide(relation: str, role: str):
        allowed = ok.get(relation)
        if allowed == "any" or (allowed == "officer" and role == OFFICER):
            return OK
        return DENIED if relation in seen_by | set(ok) else HIDDEN

    return decide


def expected(decide: Callable[[str, str], object]) -> dict[str, object]:
    table = {f"{relation}-{role}": decide(relation, role) for relation in RELATIONS for role in ROLES}
    table["staff"] = table["superuser"] = HIDDEN
    table["anonymous"] = LOGIN
    return table


SEES_VICTIM = frozenset({"activating", "grantee"})
SEES_REFERRAL = frozenset({"activating", "provider"})
SEES_APPLICATION = frozenset({"activating", "sermig"})


@dataclass(frozen=True, repr=False)
class Probe:
    method: str
    kwargs: Callable[[ProtocolScenario], dict]
    expected: dict[str, object]
    ok: frozenset[int] = frozenset({200})
    audited: bool = False  # allowed: exactly one access-log event (an identity read)
    label: str = ""

    @property
    def title(self) -> str:
        return f"{self.method}-{self.label}" if self.label else self.method


def _victim(s):
    return {"victim_id": s.victim_id}


def _activation(s):
    return {"activation_id": s.activation_id}


def _referral(s):
    return {"referral_id": s.referral_id}


def _application(s):
    return {"application_id": s.application_id}


ACTIVATING_OFFICER = {"activating": "officer"}
MATRIX: dict[str, list[Probe]] = {
    "protocol:victim_protocol": [
        Probe("GET", _victim, expected(rule(ok=dict.fromkeys(SEES_VICTIM, "any"), seen_by=SEES_VICTIM)))
    ],
    # Any officer of an institution that sees the victim may ask for the protocol.
    "protocol:activation_open": [
        Probe(
            "POST",
            _victim,
            expected(rule(ok=dict.fromkeys(SEES_VICTIM, "officer"), seen_by=SEES_VICTIM)),
            ok=REFUSED_INPUT,
            label="empty",
        )
    ],
    # The lead of the victim's case derives (the Secretaría MITP too: tests/protocol/test_residence.py).
    "protocol:residence_derive": [
        Probe(
            "POST", _victim, expected(rule(ok=ACTIVATING_OFFICER, seen_by=SEES_VICTIM)), ok=REFUSED_INPUT, label="empty"
        )
    ],
    "protocol:activation_transition": [
        Probe(
            "POST",
            _activation,
            expected(rule(ok=ACTIVATING_OFFICER, seen_by=SEES_VICTIM)),
            ok=REFUSED_INPUT,
            label="empty",
        )
    ],
    "protocol:activation_consent": [
        Probe(
            "POST",
            _activation,
            expected(rule(ok=ACTIVATING_OFFICER, seen_by=SEES_VICTIM)),
            ok=REFUSED_INPUT,
            label="empty",
        )
    ],
    "protocol:activation_requester": [
        Probe("POST", _activation, expected(rule(ok={"activating": "any"}, seen_by=SEES_VICTIM)), audited=True)
    ],
    "protocol:referral_create": [
        Probe(
            "POST",
            _activation,
            expected(rule(ok=ACTIVATING_OFFICER, seen_by=SEES_VICTIM)),
            ok=REFUSED_INPUT,
            label="empty",
        )
    ],
    # The referral: its two parties only (a grantee of the case sees no referral).
    "protocol:referral_detail": [
        Probe("GET", _referral, expected(rule(ok=dict.fromkeys(SEES_REFERRAL, "any"), seen_by=SEES_REFERRAL)))
    ],
    "protocol:referral_transition": [
        Probe(
            "POST",
            _referral,
            expected(rule(ok=dict.fromkeys(SEES_REFERRAL, "officer"), seen_by=SEES_REFERRAL)),
            ok=REFUSED_INPUT,
            label="empty",
        )
    ],
    # The minimum data, for the provider (any role) while the referral is open.
    "protocol:referral_person": [
        Probe("POST", _referral, expected(rule(ok={"provider": "any"}, seen_by=SEES_REFERRAL)), audited=True)
    ],
    "protocol:residence_detail": [
        Probe("GET", _application, expected(rule(ok=dict.fromkeys(SEES_APPLICATION, "any"), seen_by=SEES_APPLICATION)))
    ],
    "protocol:residence_transition": [
        Probe(
            "POST",
            _application,
            expected(rule(ok={"sermig": "officer"}, seen_by=SEES_APPLICATION)),
            ok=REFUSED_INPUT,
            label="empty",
        )
    ],
    "protocol:residence_identity": [
        Probe("POST", _application, expected(rule(ok={"sermig": "officer"}, seen_by=SEES_APPLICATION)), audited=True)
    ],
}


def acceptable(probe: Probe, outcome) -> frozenset[int]:
    if outcome == OK:
        return probe.ok
    if outcome == LOGIN:
        return frozenset({302})
    return frozenset({outcome})


def state() -> dict:
    """Everything a refused request (or an allowed one refused as input) must leave as it was."""
    return {
        "activations": sorted(ProtocolActivation.objects.values_list("id", "state", "version", "consent_on")),
        "referrals": sorted(Referral.objects.values_list("id", "state", "version")),
        "applications": sorted(ResidenceApplication.objects.values_list("id", "state", "version")),
        "timelines": (
            ProtocolTransition.objects.count(),
            ReferralTransition.objects.count(),
            ResidenceTransition.objects.count(),
        ),
        "victims": Victim.objects.count(),
        "notifications": Notification.objects.count(),
    }


def without_csrf(content: bytes) -> bytes:
    """A page's bytes without its CSRF token (masked afresh on every response)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def nonexistent(kwargs: dict) -> dict:
    return {name: uuid.uuid4() for name in kwargs}


@pytest.fixture(scope="module")
def scenario(module_transaction) -> ProtocolScenario:
    return build_protocol_scenario()


def sign_in(client, scenario: ProtocolScenario, subject: str) -> None:
    user = scenario.users[subject]
    if user is not None:
        client.force_login(user)  # itself an access-log event (a login): before counting


def request(client, route: str, probe: Probe, kwargs: dict):
    url = reverse(route, kwargs=kwargs)
    return client.get(url) if probe.method == "GET" else client.post(url, {})


CASES = [
    pytest.param(route, probe, subject, id=f"{route}|{probe.title}|{subject}")
    for route, probes in MATRIX.items()
    for probe in probes
    for subject in SUBJECTS
]


def test_every_protocol_route_that_takes_an_object_has_an_entry():
    routes = {route.name for route in application_routes() if route.captures and route.name.startswith("protocol:")}
    assert routes == set(MATRIX), {"missing": sorted(routes - set(MATRIX)), "stale": sorted(set(MATRIX) - routes)}


def test_each_entry_builds_exactly_the_kwargs_its_route_takes(scenario, db):
    routes = {route.name: route for route in application_routes()}
    for route, probes in MATRIX.items():
        for probe in probes:
            assert set(probe.expected) == set(SUBJECTS), route
            assert set(probe.kwargs(scenario)) == routes[route].kwargs, route


@pytest.mark.parametrize(("route", "probe", "subject"), CASES)
def test_each_protocol_route_answers_each_subject_as_the_access_model_says(client, scenario, db, route, probe, subject):
    kwargs = probe.kwargs(scenario)
    outcome = probe.expected[subject]
    sign_in(client, scenario, subject)
    before, events = state(), AccessEvent.objects.count()
    response = request(client, route, probe, kwargs)
    assert response.status_code in acceptable(probe, outcome), (
        f"{probe.method} {route} as {subject}: expected {outcome}, got {response.status_code}"
    )
    if outcome == LOGIN:
        assert response["Location"].startswith(reverse("login"))
    assert state() == before, f"{probe.method} {route} as {subject} changed the records"
    new_events = AccessEvent.objects.count() - events
    if probe.audited:
        assert new_events == (1 if outcome == OK else 0), (route, subject, new_events)
    if outcome == HIDDEN:
        ghost = request(client, route, probe, nonexistent(kwargs))
        assert ghost.status_code == 404
        assert without_csrf(ghost.content) == without_csrf(response.content), (
            "a 404 must not tell an existing object from a missing one"
        )


# --- the lists: each shows a record exactly to whom the matrix lets see it ---------------------


@pytest.mark.parametrize("subject", MEMBERS)
def test_the_bandeja_lists_the_referral_exactly_for_the_provider(client, scenario, db, subject):
    client.force_login(scenario.users[subject])
    page = client.get(reverse("protocol:referral_inbox"))
    listed = reverse("protocol:referral_detail", args=[scenario.referral_id]) in page.content.decode()
    assert page.status_code == 200 and listed == subject.startswith("provider-")


@pytest.mark.parametrize("subject", MEMBERS)
def test_the_residence_page_lists_the_application_for_sermig_and_the_deriving_institution(
    client, scenario, db, subject
):
    client.force_login(scenario.users[subject])
    page = client.get(reverse("protocol:residence_queue"))
    listed = reverse("protocol:residence_detail", args=[scenario.application_id]) in page.content.decode()
    assert page.status_code == 200 and listed == (subject.split("-")[0] in SEES_APPLICATION)


@pytest.mark.parametrize("subject", MEMBERS)
def test_the_activation_list_shows_the_protocol_only_to_the_activating_institution(client, scenario, db, subject):
    client.force_login(scenario.users[subject])
    page = client.get(reverse("protocol:activations"))
    listed = reverse("protocol:victim_protocol", args=[scenario.victim_id]) in page.content.decode()
    assert page.status_code == 200 and listed == subject.startswith("activating-")


@pytest.mark.parametrize("subject", ["staff", "superuser"])
def test_system_administrators_see_no_protocol_record_in_any_list(client, scenario, db, subject):
    client.force_login(scenario.users[subject])
    for route in ("protocol:activations", "protocol:referral_inbox", "protocol:residence_queue"):
        body = client.get(reverse(route)).content.decode()
        for record in (scenario.victim_id, scenario.referral_id, scenario.application_id):
            assert str(record) not in body, (route, subject)


@pytest.mark.parametrize("subject", MEMBERS)
def test_any_officer_may_register_a_person_without_a_case_and_no_other_role(client, scenario, db, subject):
    """Any officer may register a person with no case (their institution then holds the person);
    other roles are refused before any input is read."""
    client.force_login(scenario.users[subject])
    role = subject.split("-", 1)[1]
    answer = client.post(reverse("protocol:new_person"), {})
    assert answer.status_code == (400 if role == OFFICER else 403)
    assert Victim.objects.count() == 1
