"""The access matrix of machine clients: every /api/v1/ route, method and institution relation.

A machine client (OAuth2 client credentials, api.models.ApiClient) acts through a service user
of its institution: an *oficial* when it holds a write scope, a *lector* otherwise. So it sees and
does what that role of its institution may, narrowed by its token's scopes. Each institution of
the browser scenario (tests/access/scenario.py) gets two clients: a read-only one
(``cases:read``) and a full one (every scope). Two more institutions join the scenario here: one
shared with identity on the victim's consent (which covers that victim, never an offender), and
one that held grants (identity and collaboration on a legal basis) and was then deactivated.

Expected answers: allowed → the probe's success code (200, or 201 when a PUT creates a case);
visible but not allowed, or a scope missing → 403; not visible → 404, except PUT (or a bulk
item) by reference to a case the institution cannot see, which is 409 (the reference is taken:
the client may ask the lead for access); an inactive institution's token → 401. A refused
request changes nothing; an allowed write changes the records; an allowed identity read leaves
one access-log event naming the client.

Every route of config.api_urls (its schema and reference page aside) times every method its
view implements must have an entry in MATRIX: a route added without one fails the suite.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, path, reverse

from api.models import IdempotencyRecord
from cases.constants import SyncSource
from cases.models import (
    Case,
    CaseExternalReference,
    CaseGroupObjectPermission,
    CaseOffender,
    CaseShare,
    Offender,
    OffenderExternalReference,
)
from cases.sharing import case_share
from config import api_urls
from institutions.models import Institution
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.access.scenario import Scenario, build_scenario
from tests.api.conftest import ALL_SCOPES, Machine, clear_rate_limits, machine_for
from tests.factories import InstitutionFactory
from victims.models import CaseVictim, Victim, VictimConsent, VictimExternalReference

OK, DENIED, HIDDEN, TAKEN, UNAUTHORISED = "ok", 403, 404, 409, 401

RELATIONS = (
    "lead",
    "shared_ver",
    "shared_identity",  # identity on a legal basis: the case's victims and offenders
    "shared_consent",  # identity on the victim's consent: that victim only, never an offender
    "shared_collaborate",
    "unrelated",
    "inactive",  # held identity and collaboration, then the institution was deactivated
)
SCOPE_SETS = {"read": ("cases:read",), "full": tuple(ALL_SCOPES)}
VISIBLE = frozenset({"lead", "shared_ver", "shared_identity", "shared_consent", "shared_collaborate"})
COLLABORATORS = frozenset({"lead", "shared_collaborate"})
VICTIM_IDENTITY = frozenset({"lead", "shared_identity", "shared_consent"})
OFFENDER_IDENTITY = frozenset({"lead", "shared_identity"})  # a consent never covers an offender

EXCLUDED_ROUTES = frozenset({"schema", "docs"})  # public description of the API, no case data
# DRF's metadata answer, the same on every view. HEAD (Django answers it wherever GET is) has
# its own test below: it must answer as GET does.
GENERIC_METHODS = frozenset({"options"})


# --- rules: (relation, scope set) → expected answer -------------------------------------------


def _member(rule):
    """An inactive institution's token authenticates nobody, whatever the route."""

    def expected(relation: str, scopes: str):
        return UNAUTHORISED if relation == "inactive" else rule(relation, scopes)

    expected.__name__ = rule.__name__
    return expected


def _writer(rule):
    """Writes need cases:write: a read-only token is refused before anything is looked up."""

    def expected(relation: str, scopes: str):
        return DENIED if scopes == "read" else rule(relation, scopes)

    expected.__name__ = rule.__name__
    return _member(expected)


@_member
def any_member(relation, scopes):
    return OK


@_member
def finds_nothing(relation, scopes):
    return HIDDEN


@_member
def sees_the_case(relation, scopes):
    return OK if relation in VISIBLE else HIDDEN


@_member
def lead_reads(relation, scopes):
    if relation == "lead":
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def _identity_reader(holders):
    @_member
    def reads_identity(relation, scopes):
        if scopes == "read":
            return DENIED  # identity:read missing
        if relation in holders:
            return OK
        return DENIED if relation in VISIBLE else HIDDEN

    return reads_identity


reads_victim_identity = _identity_reader(VICTIM_IDENTITY)
reads_offender_identity = _identity_reader(OFFENDER_IDENTITY)


@_writer
def collaborator_writes(relation, scopes):
    if relation in COLLABORATORS:
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


@_writer
def collaborator_upserts(relation, scopes):
    """By reference: a case the institution cannot see is not hidden but taken (409)."""
    if relation in COLLABORATORS:
        return OK
    return DENIED if relation in VISIBLE else TAKEN


@_writer
def identity_collaborator_upserts(relation, scopes):
    """Identity is written only where it may be read (ADR 0002): of the collaborators, the lead;
    shared_collaborate has no identity access."""
    if relation == "lead":
        return OK
    return DENIED if relation in VISIBLE else TAKEN


@_writer
def any_writer(relation, scopes):
    return OK


def _links_known_person(holders):
    """A new case naming a person the institution's own system already sent in the scenario's
    case links that same person: only for an institution that may read the person's identity
    there (as "Vincular a esta víctima" on the web). Anyone else is refused, and the person is
    left as they were (a collaborator's system may have sent them; a grant may have ended since)."""

    @_writer
    def links_known_person(relation, scopes):
        return OK if relation in holders else DENIED

    return links_known_person


links_known_victim = _links_known_person(VICTIM_IDENTITY)
links_known_offender = _links_known_person(OFFENDER_IDENTITY)


# --- the matrix ------------------------------------------------------------------------------


@dataclass
class World:
    scenario: Scenario
    institutions: dict[str, Institution]
    machines: dict[tuple[str, str], Machine]

    @property
    def case_id(self) -> int:
        return self.scenario.case_id


@dataclass(frozen=True, repr=False)
class Probe:
    method: str
    kwargs: Callable[[World], dict]
    expected: Callable[[str, str], object]
    body: Callable[[World], object] | None = None
    ok: int = 200  # what "allowed" answers
    label: str = ""
    writes: bool = False  # allowed: the records change
    reveals: bool = False  # allowed: one identity-read event naming the client
    items: Callable[[str, str], object] | None = None  # bulk: the expected answer of its one item
    item_ok: int = 200  # bulk: what "allowed" answers for the item

    @property
    def title(self) -> str:
        return f"{self.method}-{self.label}" if self.label else self.method

    def __repr__(self) -> str:
        return f"<Probe {self.title}>"


def _none(w: World) -> dict:
    return {}


def _case(w: World) -> dict:
    return {"case_id": w.case_id}


def _victim(w: World) -> dict:
    return {"victim_id": w.scenario.victim_id}


def _offender(w: World) -> dict:
    return {"case_id": w.case_id, "offender_id": w.scenario.offender_id}


def _by(source: str) -> Callable[[World], dict]:
    def kwargs(w: World) -> dict:
        return {"source": source, "reference": w.scenario.references[source]}

    return kwargs


NEW_REFERENCE = "PARTE-2024-0999"  # a report number no case has
# The ids each institution's source system gave the scenario's victim and offender (``world``:
# people's external ids are per institution).
KNOWN_VICTIM, KNOWN_OFFENDER = "VIC-2023-0001", "IMP-2023-0001"


def _new_reference(w: World) -> dict:
    return {"source": SyncSource.PDI_REPORT.value, "reference": NEW_REFERENCE}


PDI, RUC = SyncSource.PDI_REPORT.value, SyncSource.FISCALIA_RUC.value


def _case_fields(w: World) -> dict:
    """The scenario case's fields with one change (its purpose): allowed means a new version."""
    return {"ruc": w.scenario.references[RUC], "intake_date": "2023-03-01", "purpose": "trabajo_forzoso"}


def _with_new_victim_identity(w: World) -> dict:
    victim = {"external_id": "VIC-77", "sex": "femenino", "identity": {"given_names": "Eulalia", "surnames": "Mamani"}}
    return {**_case_fields(w), "purpose": "explotacion_sexual", "victims": [victim]}


def _with_new_offender_identity(w: World) -> dict:
    offender = {"external_id": "IMP-77", "sex": "masculino", "identity": {"given_names": "Baldomero"}}
    return {**_case_fields(w), "purpose": "explotacion_sexual", "offenders": [offender]}


def _new_case_with(people: str, item: dict) -> Callable[[World], dict]:
    def body(w: World) -> dict:
        return {"intake_date": "2024-05-02", people: [item]}

    return body


def _bulk(source: str, reference: Callable[[World], str], case: Callable[[World], dict]):
    def body(w: World) -> dict:
        return {"items": [{"source": source, "reference": reference(w), "case": case(w)}]}

    return body


MATRIX: dict[str, list[Probe]] = {
    # Lists: every member institution gets one; what it holds is checked below.
    "api:case_list": [Probe("GET", _none, any_member)],
    "api:institution_list": [Probe("GET", _none, any_member)],
    "api:case_detail": [
        Probe("GET", _case, sees_the_case),
        Probe("PATCH", _case, collaborator_writes, body=lambda w: {"purpose": "trabajo_forzoso"}, writes=True),
    ],
    "api:case_by_ref": [
        Probe("GET", _by(PDI), sees_the_case, label=PDI),
        Probe("GET", _by(RUC), sees_the_case, label=RUC),
        Probe("GET", _new_reference, finds_nothing, label="unknown-reference"),
        Probe("PUT", _by(PDI), collaborator_upserts, body=_case_fields, writes=True, label=PDI),
        Probe("PUT", _by(RUC), collaborator_upserts, body=_case_fields, writes=True, label=RUC),
        # A reference no case has: any writer creates a case its institution leads.
        Probe(
            "PUT",
            _new_reference,
            any_writer,
            body=lambda w: {"intake_date": "2024-05-02"},
            ok=201,
            writes=True,
            label="new-reference",
        ),
        Probe(
            "PUT",
            _by(PDI),
            identity_collaborator_upserts,
            body=_with_new_victim_identity,
            writes=True,
            label="new-victim-with-identity",
        ),
        Probe(
            "PUT",
            _by(PDI),
            identity_collaborator_upserts,
            body=_with_new_offender_identity,
            writes=True,
            label="new-offender-with-identity",
        ),
        # A new case of the client's own, naming a person of the scenario's case by the id its
        # system gave them: linking them there would open their identity to the client.
        Probe(
            "PUT",
            _new_reference,
            links_known_victim,
            body=_new_case_with("victims", {"external_id": KNOWN_VICTIM}),
            ok=201,
            writes=True,
            label="new-case-with-known-victim",
        ),
        Probe(
            "PUT",
            _new_reference,
            links_known_offender,
            body=_new_case_with("offenders", {"external_id": KNOWN_OFFENDER}),
            ok=201,
            writes=True,
            label="new-case-with-known-offender",
        ),
    ],
    # The request is accepted by every writer (200); each item then answers as PUT by-ref would.
    "api:case_bulk": [
        Probe(
            "POST",
            _none,
            any_writer,
            body=_bulk(PDI, lambda w: w.scenario.references[PDI], _case_fields),
            items=collaborator_upserts,
            label="existing-reference",
        ),
        Probe(
            "POST",
            _none,
            any_writer,
            body=_bulk(PDI, lambda w: NEW_REFERENCE, lambda w: {"intake_date": "2024-05-02"}),
            items=any_writer,
            item_ok=201,
            label="new-reference",
        ),
        Probe(
            "POST",
            _none,
            any_writer,
            body=_bulk(PDI, lambda w: w.scenario.references[PDI], _with_new_victim_identity),
            items=identity_collaborator_upserts,
            label="new-victim-with-identity",
        ),
    ],
    "api:case_victims": [Probe("GET", _case, sees_the_case)],
    "api:case_offenders": [Probe("GET", _case, sees_the_case)],
    "api:offender_identity": [Probe("GET", _offender, reads_offender_identity, reveals=True)],
    "api:case_shares": [Probe("GET", _case, lead_reads)],
    "api:victim_detail": [Probe("GET", _victim, sees_the_case)],
    "api:victim_identity": [Probe("GET", _victim, reads_victim_identity, reveals=True)],
}


# --- the scenario ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(module_transaction) -> World:
    scenario = build_scenario()
    lead_officer = scenario.officer("lead")
    institutions = dict(scenario.institutions)
    institutions["shared_consent"] = InstitutionFactory(name="Institución shared_consent")
    case_share(
        actor=lead_officer,
        case_id=scenario.case_id,
        institution=institutions["shared_consent"],
        reason="Atención psicosocial de la víctima",
        can_view_identity=True,
        consent_ids=[scenario.consent_id],
    )
    institutions["inactive"] = InstitutionFactory(name="Institución inactive")
    case_share(
        actor=lead_officer,
        case_id=scenario.case_id,
        institution=institutions["inactive"],
        reason="Coordinación de la atención",
        can_view_identity=True,
        can_collaborate=True,
        legal_basis="Orden del fiscal regional, oficio 1235/2024",
    )
    # As if every institution's system had sent the case's people, each under its own ids (an
    # unrelated one, say, while it held a grant it no longer has).
    for institution in institutions.values():
        VictimExternalReference.objects.create(
            victim_id=scenario.victim_id, institution=institution, source=PDI, reference=KNOWN_VICTIM
        )
        OffenderExternalReference.objects.create(
            offender_id=scenario.offender_id, institution=institution, source=PDI, reference=KNOWN_OFFENDER
        )
    machines = {
        (relation, scopes): machine_for(institutions[relation], SCOPE_SETS[scopes], name=f"{relation} {scopes}")
        for relation in RELATIONS
        for scopes in SCOPE_SETS
    }
    # Its clients got their tokens while it was active; its grants stay in place.
    Institution.objects.filter(pk=institutions["inactive"].pk).update(is_active=False)
    clear_rate_limits()  # this process's rate-limit counters (the shared Redis cache)
    return World(scenario=scenario, institutions=institutions, machines=machines)


# --- sending and checking --------------------------------------------------------------------


def send(machine: Machine, method: str, url: str, body=None):
    if method == "GET":
        return machine.get(url)
    if method == "HEAD":
        return machine.http.head(url, **machine.headers())
    if method == "POST":
        return machine.post(url, body, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    return getattr(machine, method.lower())(url, body)


def records() -> dict:
    """Everything a refused request must leave as it was (the access log apart: see reveals)."""
    return {
        "cases": sorted(Case.objects.values_list("id", "version", "purpose", "ruc", "lead_institution_id")),
        "references": sorted(CaseExternalReference.objects.values_list("case_id", "source", "reference")),
        "shares": sorted(CaseShare.objects.values_list("id", "can_view_identity", "can_collaborate", "revoked_at")),
        "grants": sorted(CaseGroupObjectPermission.objects.values_list("group_id", "permission_id", "content_object")),
        "consents": sorted(VictimConsent.objects.values_list("id", "withdrawn_on")),
        "victim_links": sorted(CaseVictim.objects.values_list("case_id", "victim_id")),
        "offender_links": sorted(CaseOffender.objects.values_list("case_id", "offender_id")),
        "people": sorted(
            [*Victim.objects.values_list("code", "version"), *Offender.objects.values_list("code", "version")]
        ),
        "person_references": sorted(
            [
                *VictimExternalReference.objects.values_list("institution_id", "source", "reference"),
                *OffenderExternalReference.objects.values_list("institution_id", "source", "reference"),
            ]
        ),
    }


def identity_reads() -> list[str]:
    """The client of every identity read in the access log, oldest first."""
    return list(
        AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).order_by("id").values_list("client_id", flat=True)
    )


# What the scenario's people are called: a refused answer never carries any of it.
PLANTED = ("Matilde", "Ccori", "Ruperto", "Lagos")


def status_of(outcome, ok: int) -> int:
    return ok if outcome == OK else outcome


def nonexistent(kwargs: dict) -> dict:
    """The same kwargs naming objects that do not exist (a known source, an unknown reference)."""

    def ghost(name, value):
        if isinstance(value, uuid.UUID):
            return uuid.uuid4()
        if name == "source":
            return value
        return "NO-EXISTE-0" if isinstance(value, str) else 999_999_999

    return {name: ghost(name, value) for name, value in kwargs.items()}


CASES = [
    pytest.param(route, probe, relation, scopes, id=f"{route}|{probe.title}|{relation}|{scopes}")
    for route, probes in MATRIX.items()
    for probe in probes
    for relation in RELATIONS
    for scopes in SCOPE_SETS
]


@pytest.mark.parametrize(("route", "probe", "relation", "scopes"), CASES)
def test_each_api_route_answers_each_machine_client_as_the_access_model_says(world, db, route, probe, relation, scopes):
    machine = world.machines[relation, scopes]
    kwargs = probe.kwargs(world)
    outcome = probe.expected(relation, scopes)
    body = probe.body(world) if probe.body else None
    before, reads_before = records(), identity_reads()

    response = send(machine, probe.method, reverse(route, kwargs=kwargs), body)

    where = f"{probe.title} {route} by a {scopes} client of {relation}"
    assert response.status_code == status_of(outcome, probe.ok), (
        f"{where}: expected {status_of(outcome, probe.ok)}, got {response.status_code}: {response.content[:300]!r}"
    )
    changed = outcome == OK and probe.writes
    if probe.items is not None and outcome == OK:
        item_outcome = probe.items(relation, scopes)
        results = response.json()["results"]
        assert [item["status"] for item in results] == [status_of(item_outcome, probe.item_ok)], (where, results)
        changed = item_outcome == OK
    if changed:
        assert records() != before, f"{where}: allowed, but nothing changed"
    else:
        assert records() == before, f"{where} changed the records"
    new_reads = identity_reads()[len(reads_before) :]
    if outcome == OK and probe.reveals:
        assert new_reads == [machine.client_id], f"{where}: the reveal was not logged naming the client"
        assert response.json()["surnames"] in {"Ccori", "Lagos"}
    else:
        assert new_reads == [], f"{where} logged an identity read"
    if response.status_code >= 400:
        assert not [name for name in PLANTED if name in response.content.decode()], where
        assert not IdempotencyRecord.objects.filter(caller=machine.user).exists(), where
    if outcome == HIDDEN and probe.kwargs is not _new_reference:
        # 404 says nothing: the answer for an object that exists is the answer for one that does not.
        ghost = send(machine, probe.method, reverse(route, kwargs=nonexistent(kwargs)), body)
        assert (ghost.status_code, ghost.content) == (response.status_code, response.content), where


# --- the matrix itself: every route and method has an entry ----------------------------------


def api_operations(urlpatterns=None, namespace: str = api_urls.app_name) -> set[tuple[str, str]]:
    """(route name, HTTP method) of every operation the API serves: each route of its URLconf
    (schema and reference page aside) with each method its view implements."""
    operations = set()
    for pattern in api_urls.urlpatterns if urlpatterns is None else urlpatterns:
        if not isinstance(pattern, URLPattern):  # an include() would hide routes from this list
            operations.add((f"<include {pattern.pattern}>", "ANY"))
            continue
        if pattern.name in EXCLUDED_ROUTES:
            continue
        name = f"{namespace}:{pattern.name}" if pattern.name else f"<unnamed {pattern.pattern}>"
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        if view is None:  # a plain function: which methods it answers cannot be read off it
            operations.add((name, "ANY"))
            continue
        operations.update(
            (name, method.upper())
            for method in view.http_method_names
            if method not in GENERIC_METHODS and hasattr(view, method)
        )
    return operations


def matrix_operations() -> set[tuple[str, str]]:
    return {(route, probe.method) for route, probes in MATRIX.items() for probe in probes}


def test_every_api_route_and_method_has_an_entry_in_the_machine_matrix():
    missing = sorted(api_operations() - matrix_operations())
    assert not missing, f"API operations without an entry in the machine-client access matrix: {missing}"


def test_the_machine_matrix_names_no_operation_that_does_not_exist():
    extra = sorted(matrix_operations() - api_operations())
    assert not extra, f"Matrix entries for API operations that do not exist: {extra}"


def test_an_api_route_or_method_added_without_a_matrix_entry_is_named_by_the_check():
    from cases import apis

    class CaseExportApi(apis.ApiView):
        def get(self, request, case_id): ...

        def delete(self, request, case_id): ...

    class CaseDetailWithDeleteApi(apis.CaseDetailApi):
        def delete(self, request, case_id): ...

    def report(request, case_id): ...

    patterns = [
        path("cases/<int:case_id>/", CaseDetailWithDeleteApi.as_view(), name="case_detail")
        if pattern.name == "case_detail"
        else pattern
        for pattern in api_urls.urlpatterns
    ]
    patterns += [
        path("cases/<int:case_id>/export/", CaseExportApi.as_view(), name="case_export"),
        path("cases/<int:case_id>/report/", report),
    ]
    assert sorted(api_operations(patterns) - matrix_operations()) == [
        ("<unnamed cases/<int:case_id>/report/>", "ANY"),
        ("api:case_detail", "DELETE"),
        ("api:case_export", "DELETE"),
        ("api:case_export", "GET"),
    ]


def test_each_probe_builds_exactly_the_kwargs_its_route_takes(world, db):
    for pattern in api_urls.urlpatterns:
        route = f"{api_urls.app_name}:{pattern.name}"
        for probe in MATRIX.get(route, []):
            kwargs = probe.kwargs(world)
            assert set(kwargs) == set(pattern.pattern.converters), (route, probe.title, kwargs)
            reverse(route, kwargs=kwargs)


def test_each_rule_answers_for_every_relation_and_scope_set():
    answers = {OK, DENIED, HIDDEN, TAKEN, UNAUTHORISED}
    for route, probes in MATRIX.items():
        for probe in probes:
            for relation in RELATIONS:
                for scopes in SCOPE_SETS:
                    assert probe.expected(relation, scopes) in answers, (route, probe.title, relation, scopes)
                    if probe.items:
                        assert probe.items(relation, scopes) in answers, (route, probe.title, relation, scopes)
            # A read-only token never writes; an inactive institution's token never works.
            if probe.method != "GET":
                assert {probe.expected(relation, "read") for relation in RELATIONS} == {DENIED, UNAUTHORISED}
            assert {probe.expected("inactive", scopes) for scopes in SCOPE_SETS} == {UNAUTHORISED}


# --- what the matrix's status codes cannot say -------------------------------------------------


@pytest.mark.parametrize(("relation", "scopes"), [("lead", "full"), ("unrelated", "read"), ("inactive", "full")])
def test_a_method_no_view_implements_answers_405_whoever_asks(world, db, relation, scopes):
    """Nothing to read or write: 405 (401 for an inactive institution), never a guess at access."""
    machine = world.machines[relation, scopes]
    implemented = api_operations()
    answers = {}
    for pattern in api_urls.urlpatterns:
        route = f"{api_urls.app_name}:{pattern.name}"
        if pattern.name in EXCLUDED_ROUTES:
            continue
        url = reverse(route, kwargs=MATRIX[route][0].kwargs(world))
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if (route, method) not in implemented:
                response = machine.http.generic(method, url, "{}", "application/json", **machine.headers())
                answers[route, method] = response.status_code
    expected = 401 if relation == "inactive" else 405
    assert answers and set(answers.values()) == {expected}, answers


@pytest.mark.parametrize("relation", [relation for relation in RELATIONS if relation != "inactive"])
@pytest.mark.parametrize("scopes", SCOPE_SETS)
def test_a_machine_client_lists_the_case_exactly_when_its_institution_sees_it(world, db, relation, scopes):
    response = world.machines[relation, scopes].get(reverse("api:case_list"))
    assert response.status_code == 200
    ids = [case["id"] for case in response.json()["results"]]
    assert ids == ([world.case_id] if relation in VISIBLE else [])


def test_the_institution_list_leaves_out_the_inactive_institution(world, db):
    response = world.machines["lead", "read"].get(reverse("api:institution_list"))
    names = {institution["name"] for institution in response.json()}
    assert world.institutions["inactive"].name not in names
    assert {world.institutions[relation].name for relation in RELATIONS if relation != "inactive"} <= names


def test_head_answers_as_get_does_for_a_machine_client(world, db):
    """HEAD is GET without the body (RFC 9110 9.3.2): a client may ask for a case's ETag with it."""
    machine = world.machines["lead", "full"]
    differ = {}
    for route, probes in MATRIX.items():
        for probe in probes:
            if probe.method == "GET":
                url = reverse(route, kwargs=probe.kwargs(world))
                get, head = send(machine, "GET", url), send(machine, "HEAD", url)
                if head.status_code != get.status_code:
                    differ[f"{route} {probe.title}"] = (get.status_code, head.status_code)
    assert not differ, f"HEAD answers differently from GET (GET, HEAD): {differ}"


def test_another_institutions_external_id_names_a_new_person_never_the_one_it_names_there(world, db):
    """An offender's identity is for the lead and for grantees on a legal basis (ADR 0002): an
    unrelated system sending an id the lead's system gave an offender gets a person of its own,
    and can neither read nor rewrite the lead's offender."""
    lead_only = "IMP-SOLO-LEAD"
    offender = Offender.objects.get(pk=world.scenario.offender_id)
    OffenderExternalReference.objects.create(
        offender=offender, institution=world.institutions["lead"], source=PDI, reference=lead_only
    )
    before = (offender.given_names, offender.surnames, offender.sex, offender.version)
    machine = world.machines["unrelated", "full"]
    body = {
        "intake_date": "2024-05-02",
        "offenders": [{"external_id": lead_only, "sex": "femenino", "identity": {"given_names": "Cambiado"}}],
    }

    created = machine.put(reverse("api:case_by_ref", kwargs=_new_reference(world)), body)

    assert created.status_code == 201
    (link,) = created.json()["offenders"]
    assert link["offender"]["id"] != str(offender.pk)
    offender.refresh_from_db()
    assert (offender.given_names, offender.surnames, offender.sex, offender.version) == before
    assert not CaseOffender.objects.filter(case_id=created.json()["id"], offender=offender).exists()
    url = reverse("api:offender_identity", kwargs={"case_id": created.json()["id"], "offender_id": offender.pk})
    assert machine.get(url).status_code == 404


@pytest.fixture
def writer_without_identity(world, db) -> Machine:
    """A client of the lead (which has identity access) with cases:write but no identity scope."""
    return machine_for(world.institutions["lead"], ["cases:read", "cases:write"], name="Sin identidad")


def test_a_client_without_identity_write_is_refused_identity_and_told_why(world, writer_without_identity):
    from cases.sync import IDENTITY_SCOPE_MESSAGE

    before = records()
    response = writer_without_identity.put(
        reverse("api:case_by_ref", kwargs=_by(PDI)(world)), _with_new_victim_identity(world)
    )
    assert response.status_code == 403
    assert records() == before
    assert response.json()["detail"] == str(IDENTITY_SCOPE_MESSAGE), response.json()


def test_a_client_without_identity_read_is_refused_identity_reads(world, writer_without_identity):
    for url in (
        reverse("api:victim_identity", kwargs=_victim(world)),
        reverse("api:offender_identity", kwargs=_offender(world)),
    ):
        response = writer_without_identity.get(url)
        assert response.status_code == 403, url
        assert not [name for name in PLANTED if name in response.content.decode()]
