"""The access matrix of machine clients: every /api/v1/ route, method and institution relation.

A machine client (OAuth2 client credentials, api.models.ApiClient) acts through a service user
of its institution: an *oficial* when it holds a write scope, a *lector* otherwise. So it sees and
does what that role of its institution may, narrowed by its token's scopes. Each institution of
the browser scenario (tests/access/scenario.py) gets two clients: a read-only one
(``cases:read``) and a full one (every scope). More institutions join the scenario here: one
shared with identity on the victim's consent (which covers that victim, never an offender), one
that held grants (identity and collaboration on a legal basis) and was then deactivated, and the
two the Protocolo de Atención adds (issue 6): the **provider** of an open referral of the
victim's protocol (no grant on the case), and **Sermig** (a migration service whose clients hold
the *oficial Sermig* capability), with the victim's application in its queue. The lead activated
the protocol, referred the victim to the provider and derived them to Sermig. A second referral
to the provider, which it rejected, is closed: no longer the provider's (access-model.md: "until
the referral closes"), it is the lead's alone to see.

Expected answers: allowed → the probe's success code (200, or 201 when a PUT creates a case);
visible but not allowed, or a scope missing → 403; not visible → 404, except PUT (or a bulk
item) by reference to a case the institution cannot see, which is 409 (the reference is taken:
the client may ask the lead for access); an inactive institution's token → 401. A refused
request changes nothing; an allowed write changes the records; an allowed identity read leaves
one access-log event naming the client (its service user and its client id).

Every route of config.api_urls (its schema and reference page aside) times every method its
view implements must have an entry in MATRIX: a route added without one fails the suite.
"""

from __future__ import annotations

import datetime
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
from institutions.constants import InstitutionKind
from institutions.models import Institution
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from protocol.constants import ActivationAction, ReferralAction, RequestedBy, ServiceType
from protocol.models import (
    ProtocolActivation,
    ProtocolTransition,
    Referral,
    ReferralTransition,
    ResidenceApplication,
    ResidenceTransition,
)
from protocol.referrals import referral_create, referral_transition
from protocol.residence import residence_derive
from protocol.services import activation_open, activation_transition
from tests.access.scenario import Scenario, build_scenario
from tests.api.conftest import ALL_SCOPES, Machine, clear_rate_limits, machine_for
from tests.factories import InstitutionFactory
from victims.models import CaseVictim, Victim, VictimConsent, VictimExternalReference
from victims.services import victim_link_to_case, victim_register

OK, DENIED, HIDDEN, TAKEN, UNAUTHORISED = "ok", 403, 404, 409, 401

RELATIONS = (
    "lead",
    "shared_ver",
    "shared_identity",  # identity on a legal basis: the case's victims and offenders
    "shared_consent",  # identity on the victim's consent: that victim only, never an offender
    "shared_collaborate",
    "unrelated",
    "inactive",  # held identity and collaboration, then the institution was deactivated
    "provider",  # gives the service of an open referral of the victim's protocol; no case grant
    "sermig",  # the migration service, its clients *oficial Sermig*; the victim's application queued
)
SCOPE_SETS = {"read": ("cases:read",), "full": tuple(ALL_SCOPES)}
VISIBLE = frozenset({"lead", "shared_ver", "shared_identity", "shared_consent", "shared_collaborate"})
COLLABORATORS = frozenset({"lead", "shared_collaborate"})
VICTIM_IDENTITY = frozenset({"lead", "shared_identity", "shared_consent"})
OFFENDER_IDENTITY = frozenset({"lead", "shared_identity"})  # a consent never covers an offender
SEES_REFERRAL = frozenset({"lead", "provider"})  # the activating (and referring) institution, the provider
SEES_CLOSED_REFERRAL = frozenset({"lead"})  # closed, a referral is no longer the provider's
SEES_APPLICATION = frozenset({"lead", "sermig"})  # the deriving institution, Sermig

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


# Protocolo de Atención (issue 6). The activation follows the victim: whoever sees the victim
# sees it; only the activating institution (the lead here) moves it and refers from it.


@_writer
def anyone_who_sees_the_victim_writes(relation, scopes):
    """Opening an activation: any officer of an institution that sees the victim."""
    return OK if relation in VISIBLE else HIDDEN


@_writer
def activating_institution_writes(relation, scopes):
    if relation == "lead":
        return OK
    return DENIED if relation in VISIBLE else HIDDEN


def _party(sees: frozenset[str], acts: str):
    """A referral or an application: seen by its two parties only (404 for anyone else, even an
    institution that sees the victim); moved by one of them (403 for the other)."""

    @_writer
    def party_writes(relation, scopes):
        if relation == acts:
            return OK
        return DENIED if relation in sees else HIDDEN

    party_writes.__name__ = f"{acts}_moves"
    return party_writes


def _sees(holders: frozenset[str]):
    @_member
    def sees(relation, scopes):
        return OK if relation in holders else HIDDEN

    return sees


def _reads_identity_as(reader: str, seen_by: frozenset[str]):
    """The provider's minimum data, or the permit identity: one institution reads it, with
    identity:read (and, for Sermig, an officer: the full client)."""

    @_member
    def reads(relation, scopes):
        if scopes == "read":
            return DENIED  # identity:read missing
        if relation == reader:
            return OK
        return DENIED if relation in seen_by else HIDDEN

    return reads


sees_the_referral = _sees(SEES_REFERRAL)
sees_the_closed_referral = _sees(SEES_CLOSED_REFERRAL)
sees_the_application = _sees(SEES_APPLICATION)
provider_moves_the_referral = _party(SEES_REFERRAL, "provider")
referrer_moves_the_referral = _party(SEES_REFERRAL, "lead")
sermig_moves_the_application = _party(SEES_APPLICATION, "sermig")
reads_minimum_data = _reads_identity_as("provider", SEES_REFERRAL)
# Nobody reads the minimum data of a closed referral: the provider no longer sees it (404), the
# lead sees it but is not its provider (403).
reads_no_minimum_data = _reads_identity_as("", SEES_CLOSED_REFERRAL)


@_writer
def nobody_moves_the_closed_referral_as_provider(relation, scopes):
    """A provider's move on the closed referral: the provider no longer sees it (404); the lead
    sees it, but the move is not the lead's (403)."""
    return DENIED if relation in SEES_CLOSED_REFERRAL else HIDDEN


@_writer
def the_lead_cannot_cancel_a_closed_referral(relation, scopes):
    """The lead's move on the closed referral: it sees it, the state refuses the move (409);
    the provider no longer sees it (404)."""
    return TAKEN if relation in SEES_CLOSED_REFERRAL else HIDDEN


reads_permit_identity = _reads_identity_as("sermig", SEES_APPLICATION)


# --- the matrix ------------------------------------------------------------------------------


@dataclass
class World:
    scenario: Scenario
    institutions: dict[str, Institution]
    machines: dict[tuple[str, str], Machine]
    # The victim's protocol (issue 6): its activation (activa), the open referral to the
    # provider, the application in Sermig's queue; a second victim of the case, with none; a
    # third, whose activation (solicitada) waits for the consent.
    activation_id: object = None
    awaiting_consent_id: object = None
    referral_id: object = None
    closed_referral_id: object = None
    application_id: object = None
    other_victim_id: object = None

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
    query: str = ""  # appended to the route's URL
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


def _activation(w: World) -> dict:
    return {"activation_id": w.activation_id}


def _referral(w: World) -> dict:
    return {"referral_id": w.referral_id}


def _closed_referral(w: World) -> dict:
    return {"referral_id": w.closed_referral_id}


def _application(w: World) -> dict:
    return {"application_id": w.application_id}


def _awaiting_consent(w: World) -> dict:
    return {"activation_id": w.awaiting_consent_id}


def _other_victim(w: World) -> dict:
    return {"victim_id": w.other_victim_id}


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
    # --- Protocolo de Atención ---
    "api:victim_activations": [
        Probe("GET", _victim, sees_the_case),
        # The second victim has no activation: any officer who sees them may ask for one.
        Probe(
            "POST",
            _other_victim,
            anyone_who_sees_the_victim_writes,
            body=lambda w: {"requested_by": RequestedBy.INSTITUTION, "requested_on": "2024-02-01"},
            ok=201,
            writes=True,
        ),
    ],
    "api:activation_detail": [Probe("GET", _activation, sees_the_case)],
    "api:activation_transitions": [
        Probe(
            "POST",
            _activation,
            activating_institution_writes,
            body=lambda w: {"action": ActivationAction.CLOSE, "note": "Egreso del programa"},
            writes=True,
        )
    ],
    "api:activation_consent": [
        Probe(
            "POST",
            _awaiting_consent,
            activating_institution_writes,
            body=lambda w: {"consent_on": "2024-02-02"},
            writes=True,
        )
    ],
    "api:activation_referrals": [
        Probe("GET", _activation, sees_the_case),
        Probe(
            "POST",
            _activation,
            activating_institution_writes,
            body=lambda w: {"service_type": ServiceType.HEALTH, "provider": w.institutions["provider"].pk},
            ok=201,
            writes=True,
        ),
    ],
    "api:referral_list": [
        Probe("GET", _none, any_member),
        Probe("GET", _none, any_member, label="outgoing", query="?direction=outgoing"),
    ],
    "api:referral_detail": [
        Probe("GET", _referral, sees_the_referral),
        Probe("GET", _closed_referral, sees_the_closed_referral, label="closed"),
    ],
    "api:referral_transitions": [
        Probe("POST", _referral, provider_moves_the_referral, body=lambda w: {"action": "aceptar"}, writes=True),
        Probe(
            "POST",
            _referral,
            referrer_moves_the_referral,
            body=lambda w: {"action": "cancelar", "note": "Ya no lo necesita"},
            writes=True,
            label="cancelar",
        ),
        Probe(
            "POST",
            _closed_referral,
            nobody_moves_the_closed_referral_as_provider,
            body=lambda w: {"action": "aceptar"},
            label="closed-aceptar",
        ),
        Probe(
            "POST",
            _closed_referral,
            the_lead_cannot_cancel_a_closed_referral,
            body=lambda w: {"action": "cancelar", "note": "Ya no lo necesita"},
            label="closed-cancelar",
        ),
    ],
    "api:referral_victim": [
        Probe("GET", _referral, reads_minimum_data, reveals=True),
        Probe("GET", _closed_referral, reads_no_minimum_data, label="closed"),
    ],
    "api:victim_residence_applications": [
        # The second victim, of the lead's case, has no application yet.
        Probe("POST", _other_victim, activating_institution_writes, body=lambda w: {}, ok=201, writes=True),
    ],
    "api:residence_list": [Probe("GET", _none, any_member)],
    "api:residence_detail": [Probe("GET", _application, sees_the_application)],
    "api:residence_transitions": [
        Probe("POST", _application, sermig_moves_the_application, body=lambda w: {"action": "recibir"}, writes=True)
    ],
    "api:residence_identity": [
        Probe("GET", _application, reads_permit_identity, reveals=True),
    ],
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
    institutions["provider"] = InstitutionFactory(name="Institución provider", kind=InstitutionKind.PUBLIC_SERVICE)
    institutions["sermig"] = InstitutionFactory(name="Institución sermig", kind=InstitutionKind.MIGRATION)
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
        (relation, scopes): machine_for(
            institutions[relation], SCOPE_SETS[scopes], name=f"{relation} {scopes}", sermig=relation == "sermig"
        )
        for relation in RELATIONS
        for scopes in SCOPE_SETS
    }
    # Its clients got their tokens while it was active; its grants stay in place.
    Institution.objects.filter(pk=institutions["inactive"].pk).update(is_active=False)
    clear_rate_limits()  # this process's rate-limit counters (the shared Redis cache)
    world = World(scenario=scenario, institutions=institutions, machines=machines)
    _protocol(world, lead_officer)
    return world


def _protocol(world: World, lead_officer) -> None:
    """The lead activated the protocol for the scenario's victim (activa, with consent), referred
    them to the provider (pendiente), and to another of its services, which the provider
    rejected (rechazada: closed), and derived them to Sermig (derivada); the case's second
    victim has neither an activation nor an application; its third has an activation
    (solicitada) without the consent yet."""
    requested_on = datetime.date(2024, 2, 1)
    activation = activation_open(
        actor=lead_officer,
        victim_id=world.scenario.victim_id,
        requested_by=RequestedBy.VICTIM,
        requested_on=requested_on,
        consent_on=requested_on,
    )
    for action in (ActivationAction.EVALUATE, ActivationAction.ACTIVATE):
        activation_transition(actor=lead_officer, activation_id=activation.pk, action=action)
    referral = referral_create(
        actor=lead_officer,
        activation_id=activation.pk,
        service_type=ServiceType.SHELTER,
        provider_id=world.institutions["provider"].pk,
    )
    closed = referral_create(
        actor=lead_officer,
        activation_id=activation.pk,
        service_type=ServiceType.LEGAL_AID,
        provider_id=world.institutions["provider"].pk,
    )
    referral_transition(
        actor=world.machines["provider", "full"].user,
        referral_id=closed.pk,
        action=ReferralAction.REJECT,
        note="Sin cupo",
    )
    world.closed_referral_id = closed.pk
    application = residence_derive(actor=lead_officer, victim_id=world.scenario.victim_id)
    case = Case.objects.get(pk=world.scenario.case_id)
    other, third = (
        victim_register(actor=None, institution=world.institutions["lead"], given_names=name, sex="femenino")
        for name in ("Otra", "Tercera")
    )
    for victim in (other, third):
        victim_link_to_case(actor=None, victim=victim, case=case)
    awaiting = activation_open(
        actor=lead_officer, victim_id=third.pk, requested_by=RequestedBy.VICTIM, requested_on=requested_on
    )
    world.activation_id, world.referral_id, world.awaiting_consent_id = activation.pk, referral.pk, awaiting.pk
    world.application_id, world.other_victim_id = application.pk, other.pk


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
        "activations": sorted(
            ProtocolActivation.objects.values_list("id", "victim_id", "state", "version", "consent_on")
        ),
        "referrals": sorted(Referral.objects.values_list("id", "provider_id", "state", "version")),
        "applications": sorted(ResidenceApplication.objects.values_list("id", "victim_id", "state", "version")),
        "timelines": [
            ProtocolTransition.objects.count(),
            ReferralTransition.objects.count(),
            ResidenceTransition.objects.count(),
        ],
    }


def identity_reads() -> list[tuple[int, str]]:
    """Who made every identity read in the access log (the service user, the client id), oldest
    first."""
    return list(
        AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ)
        .order_by("id")
        .values_list("actor_id", "client_id")
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

    response = send(machine, probe.method, reverse(route, kwargs=kwargs) + probe.query, body)

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
        client_id = machine.client_id
        assert new_reads == [(machine.user.pk, client_id)], f"{where}: the reveal was not logged naming the client"
        assert response.json()["surnames"] in {"Ccori", "Lagos"}
    else:
        assert new_reads == [], f"{where} logged an identity read"
    if response.status_code >= 400:
        assert not [name for name in PLANTED if name in response.content.decode()], where
        assert not IdempotencyRecord.objects.filter(caller=machine.user).exists(), where
    if outcome == HIDDEN and probe.kwargs is not _new_reference:
        # 404 says nothing: the answer for an object that exists is the answer for one that does not.
        ghost = send(machine, probe.method, reverse(route, kwargs=nonexistent(kwargs)) + probe.query, body)
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


@pytest.mark.parametrize("relation", [relation for relation in RELATIONS if relation != "inactive"])
@pytest.mark.parametrize("scopes", SCOPE_SETS)
def test_a_machine_client_lists_a_referral_exactly_when_its_institution_sees_it(world, db, relation, scopes):
    """Incoming: the provider's open referral, never the closed one. Outgoing: the lead's two,
    the closed one too."""
    machine = world.machines[relation, scopes]
    incoming = machine.get(reverse("api:referral_list"))
    outgoing = machine.get(reverse("api:referral_list") + "?direction=outgoing")
    assert incoming.status_code == outgoing.status_code == 200
    assert [item["id"] for item in incoming.json()["results"]] == (
        [str(world.referral_id)] if relation == "provider" else []
    )
    assert {item["id"] for item in outgoing.json()["results"]} == (
        {str(world.referral_id), str(world.closed_referral_id)} if relation == "lead" else set()
    )
    closed = machine.get(reverse("api:referral_list") + "?state=rechazada")
    assert closed.status_code == 200
    assert closed.json()["results"] == []


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
                url = reverse(route, kwargs=probe.kwargs(world)) + probe.query
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
