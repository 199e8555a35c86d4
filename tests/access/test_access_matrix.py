"""The access matrix, generated from the URL resolver.

Every URL pattern that takes an object (any converter in its path) must have an entry in MATRIX,
keyed by its full route name. Each entry lists one or more probes (method, kwargs, body) with
the expected answer for every subject: each institution relation to the case (lead, shared at
*ver*, shared with identity on a legal basis, shared to collaborate, unrelated) times each role
(lector, oficial, administrador), plus staff, superuser and anonymous.

Expected answers follow ../shared/access-model.md: not visible → 404 (never 403), visible but not
allowed (institution permission or role) → 403, allowed → the route's success codes. Anonymous
users are sent to the login page by the UI and refused with 401/403 by the API. Write probes
send an empty or invalid body, so an allowed request ends refused as input (400, kernel.web
refused_input) or in a redirect, and a refused one changes nothing. The API's PUT and PATCH
probes (a session user keeps working on the API with their role) send a valid JSON body, so an
allowed one really writes (rolled back after the test). PUT by reference to a case the
institution cannot see answers 409: the reference is taken, and its lead can be asked for access.

Routes whose object is a user account (an institutional administrator's pages) probe a member of
the lead institution who is none of the subjects: the same subjects then read as "administrator
of the member's institution" (allowed), "administrator of another one" (404: the member does not
exist for them) and "any other role" (403, staff included). The invitation link is its own
credential: every subject, anonymous included, gets the page (here saying the link is invalid).
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import URLResolver, include, path, re_path, reverse
from django.urls.resolvers import RegexPattern
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.constants import AccessRequestStatus, CasePermission, SyncSource
from cases.models import AccessRequest, Case, CaseGroupObjectPermission, CaseOffender, CaseShare, Offender
from cases.selectors import case_list
from config import urls as config_urls
from institutions.constants import Role
from institutions.models import User
from tests.access.scenario import (
    MEMBERS,
    RELATIONS,
    ROLES,
    SUBJECTS,
    Scenario,
    application_routes,
    build_scenario,
    walk_routes,
)
from tests.clients import VerifiedClient, verified_device
from tests.factories import UserFactory
from victims.models import CaseVictim, Victim, VictimConsent

OK, DENIED, HIDDEN, TAKEN = "ok", 403, 404, 409
LOGIN, UNAUTHENTICATED = "login", "unauthenticated"
OFFICER = "oficial"
VISIBLE = frozenset({"lead", "shared_ver", "shared_identity", "shared_collaborate"})
WITH_IDENTITY = frozenset({"lead", "shared_identity"})  # shared_identity states a legal basis


# --- rules: (relation, role) → expected answer for members of an institution -----------------


def sees_the_case(relation: str, role: str):
    return OK if relation in VISIBLE else HIDDEN


def lead_reads(relation: str, role: str):
    """Administering the case (its grants, its access log) is the lead's; grantees see the case."""
    if relation == "lead":
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def lead_officer_writes(relation: str, role: str):
    if relation == "lead" and role == OFFICER:
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def reads_identity(relation: str, role: str):
    if relation in WITH_IDENTITY:
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def identity_officer_writes(relation: str, role: str):
    """Consents: an officer of an institution with identity access to the victim."""
    if relation in WITH_IDENTITY and role == OFFICER:
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def collaborator_officer_writes(relation: str, role: str):
    """Editing a case and adding or editing its people: an officer of an institution holding
    *colaborar* (the lead, or a grantee given it)."""
    if relation in {"lead", "shared_collaborate"} and role == OFFICER:
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def officer_upserts_by_reference(relation: str, role: str):
    """PUT /api/v1/cases/by-ref/...: any role but officer is refused before the reference is
    looked up; a case the institution cannot see is not hidden but taken (409)."""
    if role != OFFICER:
        return DENIED
    if relation in {"lead", "shared_collaborate"}:
        return OK
    return DENIED if relation in VISIBLE else TAKEN


def lead_decides_requests(relation: str, role: str):
    """A request is addressed to the lead and listed only there: everybody else gets 404."""
    if relation != "lead":
        return HIDDEN
    return OK if role == OFFICER else DENIED


def lead_admin_manages_the_member(relation: str, role: str):
    """User administration; the member belongs to the lead institution. Any role but
    administrator is refused before the member is looked up."""
    if role != Role.INSTITUTION_ADMIN:
        return DENIED
    return OK if relation == "lead" else HIDDEN


def expected(rule: Callable[[str, str], object], *, api: bool, system_admins=HIDDEN) -> dict[str, object]:
    table = {f"{relation}-{role}": rule(relation, role) for relation in RELATIONS for role in ROLES}
    # Cases: no institution, no grant, so being superuser opens nothing (404). User administration:
    # not an institutional administrator (403); system administrators use the system admin.
    table["staff"] = table["superuser"] = system_admins
    table["anonymous"] = UNAUTHENTICATED if api else LOGIN
    return table


# --- the matrix ------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Probe:
    method: str
    kwargs: Callable[[Scenario], dict]
    expected: dict[str, object]
    body: Callable[[Scenario], dict] = field(default=lambda s: {})
    ok: frozenset[int] = frozenset({200})  # what "allowed" answers on this route with this body
    label: str = ""
    writes: bool = False  # allowed: the records change (API writes with a valid body)

    @property
    def title(self) -> str:
        return f"{self.method}-{self.label}" if self.label else self.method

    def __repr__(self) -> str:
        return f"<Probe {self.title}>"


def _case(s: Scenario) -> dict:
    return {"case_id": s.case_id}


def _victim(s: Scenario) -> dict:
    return {"victim_id": s.victim_id}


def _case_victim(s: Scenario) -> dict:
    return {"case_id": s.case_id, "victim_id": s.victim_id}


def _offender(s: Scenario) -> dict:
    return {"case_id": s.case_id, "offender_id": s.offender_id}


def _by_reference(s: Scenario) -> dict:
    source = SyncSource.PDI_REPORT.value
    return {"source": source, "reference": s.references[source]}


def _case_fields(s: Scenario) -> dict:
    """The scenario case's fields with one change (its purpose): allowed means a new version."""
    return {
        "ruc": s.references[SyncSource.FISCALIA_RUC.value],
        "intake_date": "2023-03-01",
        "purpose": "trabajo_forzoso",
    }


MEMBER = "lead.miembro"  # the account the user-administration probes act on


def add_member(s: Scenario) -> None:
    """A lector of the lead institution with a verified device and a failed login: something to
    deactivate, reset and unlock. Not a subject, so signing a subject in never touches it."""
    member = UserFactory(username=MEMBER, institution=s.institutions["lead"], role=Role.READER)
    verified_device(member)
    AccessAttempt.objects.create(username=MEMBER, ip_address="10.0.0.1", user_agent="x", failures_since_start=1)


def _member(s: Scenario) -> dict:
    return {"user_id": User.objects.get(username=MEMBER).pk}


def _activation_link(s: Scenario) -> dict:
    uid = urlsafe_base64_encode(force_bytes(User.objects.get(username=MEMBER).pk))
    return {"uidb64": uid, "token": "enlace-vencido"}


UI, API = {"api": False}, {"api": True}
USERS = {"api": False, "system_admins": DENIED}
REFUSED_INPUT, REDIRECT, CONFLICT = frozenset({400}), frozenset({302}), frozenset({409})
ANYONE_WITH_THE_LINK = {subject: OK for subject in SUBJECTS}

MATRIX: dict[str, list[Probe]] = {
    "cases:detail": [Probe("GET", _case, expected(sees_the_case, **UI))],
    # The case's tabs: pseudonyms and statistics for everyone who sees the case (identity only
    # behind the audited POSTs below); the history tab scopes its access log per institution.
    "cases:victims": [Probe("GET", _case, expected(sees_the_case, **UI))],
    # Every victim of the scenario's case is readable exactly where its one victim is.
    "cases:victims_identity": [Probe("POST", _case, expected(reads_identity, **UI))],
    "cases:offenders": [Probe("GET", _case, expected(sees_the_case, **UI))],
    "cases:history": [Probe("GET", _case, expected(sees_the_case, **UI))],
    # Create and edit pages (cases/form_views.py, victims/form_views.py): the form itself is
    # already a write page, so a reader gets 403 on the GET too. An empty POST is refused as
    # input (400). Showing the identity on an edit page is an audited reveal, for the lead only
    # here (shared_collaborate has no identity access; shared_identity may not write).
    "cases:edit": [
        Probe("GET", _case, expected(collaborator_officer_writes, **UI)),
        Probe("POST", _case, expected(collaborator_officer_writes, **UI), ok=REFUSED_INPUT, label="empty"),
    ],
    "cases:offender_create": [
        Probe("GET", _case, expected(collaborator_officer_writes, **UI)),
        Probe("POST", _case, expected(collaborator_officer_writes, **UI), ok=REFUSED_INPUT, label="empty"),
    ],
    "cases:offender_edit": [
        Probe("GET", _offender, expected(collaborator_officer_writes, **UI)),
        Probe("POST", _offender, expected(collaborator_officer_writes, **UI), ok=REFUSED_INPUT, label="empty"),
        Probe(
            "POST",
            _offender,
            expected(lead_officer_writes, **UI),
            body=lambda s: {"accion": "mostrar_identidad"},
            label="reveal-identity",
        ),
    ],
    "victims:create": [
        Probe("GET", _case, expected(collaborator_officer_writes, **UI)),
        Probe("POST", _case, expected(collaborator_officer_writes, **UI), ok=REFUSED_INPUT, label="empty"),
    ],
    "victims:edit": [
        Probe("GET", _case_victim, expected(collaborator_officer_writes, **UI)),
        Probe("POST", _case_victim, expected(collaborator_officer_writes, **UI), ok=REFUSED_INPUT, label="empty"),
        Probe(
            "POST",
            _case_victim,
            expected(lead_officer_writes, **UI),
            body=lambda s: {"accion": "mostrar_identidad"},
            label="reveal-identity",
        ),
    ],
    # The duplicate warning of the victim form, and "Vincular a esta víctima": for whoever may
    # write identity into the case (the lead here: shared_collaborate has no identity access,
    # shared_identity may not write). The scenario's victim is already in the case, so linking
    # it is refused as input even with a valid answer.
    "victims:duplicate_warning": [Probe("POST", _case, expected(lead_officer_writes, **UI), label="empty")],
    "victims:link": [
        Probe("POST", _case_victim, expected(lead_officer_writes, **UI), ok=REFUSED_INPUT, label="empty"),
        Probe(
            "POST",
            _case_victim,
            expected(lead_officer_writes, **UI),
            body=lambda s: {"age_status": "desconocida"},
            ok=REFUSED_INPUT,
            label="already-in-the-case",
        ),
    ],
    "cases:share": [
        Probe("GET", _case, expected(lead_reads, **UI)),
        Probe("POST", _case, expected(lead_officer_writes, **UI), ok=REFUSED_INPUT, label="empty"),
        Probe(
            "POST",
            _case,
            expected(lead_officer_writes, **UI),
            body=lambda s: {"institution": s.institutions["unrelated"].pk, "reason": ""},
            ok=REFUSED_INPUT,
            label="without-reason",
        ),
    ],
    "cases:unshare": [
        Probe(
            "POST",
            lambda s: {"case_id": s.case_id, "share_id": s.share_ids["shared_ver"]},
            expected(lead_officer_writes, **UI),
            ok=REFUSED_INPUT,
            label="empty",
        )
    ],
    # Reading identity is a POST (an audited act); any role of an institution allowed to read it.
    "cases:offender_identity": [
        Probe("POST", lambda s: {"case_id": s.case_id, "offender_id": s.offender_id}, expected(reads_identity, **UI))
    ],
    "cases:access_request_decide": [
        Probe(
            "POST",
            lambda s: {"request_id": s.request_id},
            expected(lead_decides_requests, **UI),
            ok=REFUSED_INPUT | REDIRECT,
            label="empty",
        ),
        Probe(
            "POST",
            lambda s: {"request_id": s.request_id},
            expected(lead_decides_requests, **UI),
            body=lambda s: {"decision": "aprobar", "can_view_identity": "on"},  # identity with no basis
            ok=REFUSED_INPUT,
            label="approve-identity-without-basis",
        ),
    ],
    "victims:detail": [Probe("GET", _victim, expected(sees_the_case, **UI))],
    "victims:identity": [Probe("POST", _victim, expected(reads_identity, **UI))],
    "victims:consent_record": [
        Probe("POST", _victim, expected(identity_officer_writes, **UI), ok=REFUSED_INPUT, label="empty"),
        Probe(
            "POST",
            _victim,
            expected(identity_officer_writes, **UI),
            body=lambda s: {"given_on": "2024-02-01"},
            ok=REFUSED_INPUT,
            label="without-scope",
        ),
    ],
    # Withdrawing takes no input: allowed means the consent is withdrawn (rolled back after the test).
    "victims:consent_withdraw": [
        Probe(
            "POST",
            lambda s: {"victim_id": s.victim_id, "consent_id": s.consent_id},
            expected(identity_officer_writes, **UI),
            ok=REDIRECT,
        )
    ],
    "api:case_detail": [
        Probe("GET", _case, expected(sees_the_case, **API)),
        Probe(
            "PATCH",
            _case,
            expected(collaborator_officer_writes, **API),
            body=lambda s: {"purpose": "trabajo_forzoso"},
            writes=True,
        ),
    ],
    "api:case_by_ref": [
        Probe("GET", _by_reference, expected(sees_the_case, **API)),
        Probe(
            "PUT",
            _by_reference,
            expected(officer_upserts_by_reference, api=True, system_admins=DENIED),
            body=_case_fields,
            writes=True,
        ),
    ],
    "api:case_victims": [Probe("GET", _case, expected(sees_the_case, **API))],
    "api:case_offenders": [Probe("GET", _case, expected(sees_the_case, **API))],
    # Any role of the lead, or of a grantee on a legal basis (identity only through this audited read).
    "api:offender_identity": [Probe("GET", _offender, expected(reads_identity, **API))],
    "api:case_shares": [Probe("GET", _case, expected(lead_reads, **API))],
    "api:victim_detail": [Probe("GET", _victim, expected(sees_the_case, **API))],
    "api:victim_identity": [Probe("GET", _victim, expected(reads_identity, **API))],
    # Users of my institution (institutions.views). Deactivating, resetting the second factor and
    # unlocking take no input: allowed means done (rolled back after the test).
    "institutions:user_detail": [Probe("GET", _member, expected(lead_admin_manages_the_member, **USERS))],
    "institutions:user_role": [
        Probe("POST", _member, expected(lead_admin_manages_the_member, **USERS), ok=REFUSED_INPUT, label="empty"),
        Probe(
            "POST",
            _member,
            expected(lead_admin_manages_the_member, **USERS),
            body=lambda s: {"role": "superusuario"},
            ok=REFUSED_INPUT,
            label="unknown-role",
        ),
    ],
    "institutions:user_deactivate": [
        Probe("GET", _member, expected(lead_admin_manages_the_member, **USERS), label="confirm"),
        Probe("POST", _member, expected(lead_admin_manages_the_member, **USERS), ok=REDIRECT),
    ],
    # The member is active: allowed ends in the Spanish refusal of the transition.
    "institutions:user_reactivate": [
        Probe("POST", _member, expected(lead_admin_manages_the_member, **USERS), ok=CONFLICT, label="active-member")
    ],
    "institutions:user_two_factor_reset": [
        Probe("GET", _member, expected(lead_admin_manages_the_member, **USERS), label="confirm"),
        Probe("POST", _member, expected(lead_admin_manages_the_member, **USERS), ok=REDIRECT),
    ],
    "institutions:user_unlock": [Probe("POST", _member, expected(lead_admin_manages_the_member, **USERS), ok=REDIRECT)],
    # The member has a password already: allowed ends in the refusal, and no e-mail goes out.
    "institutions:user_invitation_resend": [
        Probe("POST", _member, expected(lead_admin_manages_the_member, **USERS), ok=CONFLICT, label="has-password")
    ],
    "institutions:account_activate": [
        Probe("GET", _activation_link, ANYONE_WITH_THE_LINK, label="invalid-token"),
        Probe(
            "POST",
            _activation_link,
            ANYONE_WITH_THE_LINK,
            body=lambda s: {"new_password1": "clave-nueva-larga-2026", "new_password2": "clave-nueva-larga-2026"},
            label="invalid-token",
        ),
    ],
}


def acceptable(probe: Probe, outcome) -> frozenset:
    """The status codes that mean ``outcome`` on this probe's route."""
    if outcome == OK:
        return probe.ok
    if outcome == LOGIN:
        return frozenset({302})
    if outcome == UNAUTHENTICATED:
        return frozenset({401, 403})
    return frozenset({outcome})


def state(scenario_case_id: int) -> dict:
    """Everything a refused request must leave as it was."""
    return {
        "case": list(Case.objects.filter(pk=scenario_case_id).values_list("version", "status")),
        "shares": sorted(CaseShare.objects.values_list("id", "can_view_identity", "can_collaborate", "revoked_at")),
        "grants": sorted(CaseGroupObjectPermission.objects.values_list("group_id", "permission_id", "content_object")),
        "requests": sorted(AccessRequest.objects.values_list("id", "status")),
        "consents": sorted(VictimConsent.objects.values_list("id", "withdrawn_on")),
        "victim_links": CaseVictim.objects.count(),
        "offender_links": CaseOffender.objects.count(),
        "people": sorted(
            [*Victim.objects.values_list("code", "version"), *Offender.objects.values_list("code", "version")]
        ),
        "accounts": sorted(User.objects.values_list("id", "is_active", "role", "password")),
        "member_devices": sorted(TOTPDevice.objects.filter(user__username=MEMBER).values_list("id", "confirmed")),
        "member_failed_logins": sorted(AccessAttempt.objects.filter(username=MEMBER).values_list("id")),
    }


def nonexistent(kwargs: dict) -> dict:
    """The same kwargs pointing at objects that do not exist (a known source, an unknown reference)."""

    def ghost(name: str, value):
        if isinstance(value, uuid.UUID):
            return uuid.uuid4()
        if name == "source":
            return value
        return "NO-EXISTE-0" if isinstance(value, str) else 999_999_999

    return {name: ghost(name, value) for name, value in kwargs.items()}


@pytest.fixture(scope="module")
def scenario(module_transaction) -> Scenario:
    scenario = build_scenario()
    add_member(scenario)
    return scenario


JSON_METHODS = frozenset({"PUT", "PATCH"})  # API writes: a JSON body


def request(client, scenario: Scenario, subject: str, route: str, probe: Probe, kwargs: dict):
    user = scenario.users[subject]
    if user is not None:
        client.force_login(user)
    url = reverse(route, kwargs=kwargs)
    if probe.method in JSON_METHODS:
        return client.generic(probe.method, url, json.dumps(probe.body(scenario)), content_type="application/json")
    send = client.get if probe.method == "GET" else client.post
    return send(url, probe.body(scenario))


CASES = [
    pytest.param(route, probe, subject, id=f"{route}|{probe.title}|{subject}")
    for route, probes in MATRIX.items()
    for probe in probes
    for subject in SUBJECTS
]


# --- the matrix itself -----------------------------------------------------------------------


# Routes whose object is not the scenario's case (a victim with no case, a protocol record) are
# probed by matrices of their own, with the subjects that matter there. Each module defines MATRIX
# and checks it the same way; a route counts as covered when any of them names it.
OTHER_MATRICES: tuple[str, ...] = (
    "tests.access.test_protocol_matrix",
    "tests.access.test_caseless_victim_matrix",
    # The protocol's API routes (issue 6): machine clients of the institutions around a protocol.
    "tests.access.test_api_machine_matrix",
    # The statistics pages (issue 7): a capability, not an object of an institution.
    "tests.access.test_stats_matrix",
)


def covered_elsewhere() -> set[str]:
    return {name for module in OTHER_MATRICES for name in importlib.import_module(module).MATRIX}


def routes_missing_from_the_matrix(resolver=None) -> list[str]:
    routes = walk_routes(resolver) if resolver else application_routes()
    covered = set(MATRIX) | covered_elsewhere()
    return sorted(
        f"{route.name} ({route.route})"
        for route in routes
        if route.captures and not route.is_admin and route.name not in covered
    )


def test_every_route_that_takes_an_object_has_an_entry_in_the_matrix():
    missing = routes_missing_from_the_matrix()
    assert not missing, f"Routes taking an object without an entry in the access matrix: {missing}"


def test_a_route_added_without_a_matrix_entry_is_named_by_the_check():
    def export(request, case_id): ...

    extra = [
        path("causas/<int:case_id>/exportar/", export, name="export"),
        re_path(r"^causas/(\d+)/pdf/$", export),
    ]
    urlconf = ModuleType("urls_with_a_new_route")
    urlconf.urlpatterns = [*config_urls.urlpatterns, path("", include((extra, "cases")))]
    assert routes_missing_from_the_matrix(URLResolver(RegexPattern(r"^/"), urlconf)) == [
        r"<unnamed ^causas/(\d+)/pdf/$> (^causas/(\d+)/pdf/$)",
        "cases:export (causas/<int:case_id>/exportar/)",
    ]


def test_the_matrix_names_no_route_that_no_longer_exists():
    routes = {route.name for route in application_routes() if route.captures}
    assert not set(MATRIX) - routes, f"Matrix entries for routes that do not exist: {sorted(set(MATRIX) - routes)}"


def test_each_matrix_entry_states_the_answer_for_every_subject():
    for route, probes in MATRIX.items():
        assert probes, route
        for probe in probes:
            assert set(probe.expected) == set(SUBJECTS), (route, probe.title)
            assert probe.method in {"GET", "POST"} | JSON_METHODS, (route, probe.title)
            assert probe.method not in JSON_METHODS or route.startswith("api:"), (route, probe.title)


def test_each_matrix_entry_builds_exactly_the_kwargs_its_route_takes(scenario, db):
    routes = {route.name: route for route in application_routes()}
    for route, probes in MATRIX.items():
        for probe in probes:
            kwargs = probe.kwargs(scenario)
            assert set(kwargs) == routes[route].kwargs, (route, probe.title, kwargs)
            reverse(route, kwargs=kwargs)


@pytest.mark.parametrize(("route", "probe", "subject"), CASES)
def test_each_route_answers_each_subject_as_the_access_model_says(client, scenario, db, route, probe, subject):
    kwargs = probe.kwargs(scenario)
    outcome = probe.expected[subject]
    before = state(scenario.case_id)
    response = request(client, scenario, subject, route, probe, kwargs)
    assert response.status_code in acceptable(probe, outcome), (
        f"{probe.method} {route} as {subject}: expected {outcome} {sorted(acceptable(probe, outcome))}, "
        f"got {response.status_code}"
    )
    if outcome == LOGIN:
        assert response["Location"].startswith(reverse("login"))
    if outcome == OK and probe.writes:
        assert state(scenario.case_id) != before, f"{probe.method} {route} as {subject}: allowed, but nothing changed"
    elif not (outcome == OK and response.status_code == 302):
        assert state(scenario.case_id) == before, f"{probe.method} {route} as {subject} changed the records"
    if outcome == HIDDEN:
        # 404 says nothing: the answer for an object that exists is the answer for one that does not.
        ghost = request(client, scenario, subject, route, probe, nonexistent(kwargs))
        assert ghost.status_code == response.status_code


# --- decisions the matrix cannot express ---------------------------------------------------


def test_a_decision_without_approve_or_decline_is_refused_and_the_request_stays_pending(client, scenario, db):
    client.force_login(scenario.officer("lead"))
    response = client.post(reverse("cases:access_request_decide", kwargs={"request_id": scenario.request_id}), {})
    assert response.status_code == 400
    assert AccessRequest.objects.get(pk=scenario.request_id).status == AccessRequestStatus.PENDING


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_no_api_route_answers_a_session_write_without_csrf_token_with_a_server_error(scenario, db, accept):
    """As in production, CSRF enforced: a signed-in browser's write without the token is refused
    (403), or its method or format is (405, 406), on every API route; it is never a 500."""
    client = VerifiedClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(scenario.officer("lead"))
    answers = {}
    for route in application_routes():
        if route.is_api:
            # A route probed elsewhere (the protocol's) takes ids only: any will do, since the CSRF
            # check refuses the write before anything is looked up.
            kwargs = (
                MATRIX[route.name][0].kwargs(scenario)
                if route.name in MATRIX
                else {name: uuid.uuid4() for name in route.kwargs}
            )
            url = reverse(route.name, kwargs=kwargs)
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                answers[f"{method} {route.name}"] = client.generic(
                    method, url, "{}", content_type="application/json", HTTP_ACCEPT=accept
                ).status_code
    assert {name: status for name, status in answers.items() if status >= 500} == {}
    assert set(answers.values()) <= {403, 405, 406}, answers


@pytest.mark.parametrize("subject", ["staff", "superuser"])
def test_a_system_administrator_sees_no_case_in_any_list(client, scenario, db, subject):
    user = scenario.users[subject]
    assert Case.objects.filter(pk=scenario.case_id).exists()
    assert not case_list(user=user).exists()
    client.force_login(user)
    page = client.get(reverse("cases:list"))
    assert page.status_code == 200 and page.context["page"].paginator.count == 0
    api = client.get(reverse("api:case_list"))  # a cursor page: no count, only results
    assert api.status_code == 200 and api.json()["results"] == []
    assert client.get(reverse("cases:access_requests")).context["requests"].count() == 0


@pytest.mark.parametrize("subject", MEMBERS)
def test_a_member_lists_the_case_exactly_when_their_institution_sees_it(client, scenario, db, subject):
    client.force_login(scenario.users[subject])
    ids = [case["id"] for case in client.get(reverse("api:case_list")).json()["results"]]
    assert ids == ([scenario.case_id] if subject.split("-")[0] in VISIBLE else [])


def test_no_user_or_group_holds_a_model_level_permission_on_cases_or_victims(scenario, db):
    apps = ("cases", "victims")
    assert not User.user_permissions.through.objects.filter(permission__content_type__app_label__in=apps).exists()
    assert not Group.permissions.through.objects.filter(permission__content_type__app_label__in=apps).exists()
    assert not User.objects.filter(groups__permissions__content_type__app_label__in=apps).exists()


def test_the_case_model_has_only_the_four_custom_object_permissions(db):
    codenames = Permission.objects.filter(content_type__app_label="cases", content_type__model="case")
    assert sorted(codenames.values_list("codename", flat=True)) == sorted(CasePermission.LEAD)


def test_the_cases_app_defines_no_permission_but_the_four_custom_ones(db):
    codenames = sorted(Permission.objects.filter(content_type__app_label="cases").values_list("codename", flat=True))
    assert codenames == sorted(CasePermission.LEAD), (
        "Model-level permissions a system administrator could grant through the Group admin: "
        f"{sorted(set(codenames) - set(CasePermission.LEAD))}"
    )


def test_the_system_admin_registers_no_model_of_the_cases_or_victims_apps():
    # tests/test_pages_and_privacy.py checks Case, Victim, CaseVictim, Offender and CaseOffender by
    # name; this covers the rest (shares, requests, consents, grants, history events).
    registered = sorted(f"{m._meta.app_label}.{m.__name__}" for m in admin.site._registry)
    assert not [name for name in registered if name.split(".")[0] in {"cases", "victims"}], registered
