"""Who is who in the access tests, and the URL resolver walked into routes.

Not a test module: the matrix and the masking tests import it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from cases.constants import SyncSource
from cases.services import case_create, offender_link_to_case, offender_register
from cases.sharing import access_request_create, case_share
from institutions.constants import Role
from institutions.models import Institution, User
from kernel.choices import Sex
from tests.factories import InstitutionFactory, UserFactory, valid_run
from victims.consent import consent_record
from victims.services import victim_link_to_case, victim_register

RELATIONS = ("lead", "shared_ver", "shared_identity", "shared_collaborate", "unrelated")
ROLES = (Role.READER.value, Role.CASE_OFFICER.value, Role.INSTITUTION_ADMIN.value)
MEMBERS = tuple(f"{relation}-{role}" for relation in RELATIONS for role in ROLES)
SUBJECTS = (*MEMBERS, "staff", "superuser", "anonymous")

# What each share gives (cases.sharing.case_share keyword arguments besides the reason).
SHARES = {
    "shared_ver": {},
    "shared_identity": {"can_view_identity": True, "legal_basis": "Orden del fiscal regional, oficio 1234/2024"},
    "shared_collaborate": {"can_collaborate": True},
}

# How source systems know the scenario's case (GET/PUT /api/v1/cases/by-ref/{source}/{reference}).
CASE_RUC = "2300123456-7"
CASE_REFERENCES = {SyncSource.FISCALIA_RUC.value: CASE_RUC, SyncSource.PDI_REPORT.value: "PARTE-2023-0417"}


@dataclass
class Scenario:
    institutions: dict[str, Institution]
    users: dict[str, User | None]
    case_id: int
    victim_ids: list
    offender_id: object
    consent_id: int
    request_id: int
    share_ids: dict[str, int]
    victim_codes: list[str] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)  # source → reference (CASE_REFERENCES)

    @property
    def victim_id(self):
        return self.victim_ids[0]

    def officer(self, relation: str) -> User:
        return self.users[f"{relation}-{Role.CASE_OFFICER.value}"]


def make_users(relations=RELATIONS) -> tuple[dict[str, Institution], dict[str, User | None]]:
    """An institution per relation with one user per role, plus staff, a superuser and nobody."""
    # Every institution owns every source system here, so that a PUT by reference meets the
    # access rules under test (ownership itself: tests/api/test_source_ownership.py).
    institutions = {
        relation: InstitutionFactory(name=f"Institución {relation}", sync_sources=list(SyncSource.values))
        for relation in relations
    }
    users: dict[str, User | None] = {
        f"{relation}-{role}": UserFactory(username=f"{relation}.{role}", institution=institution, role=role)
        for relation, institution in institutions.items()
        for role in ROLES
    }
    users["staff"] = UserFactory(username="sistema.staff", institution=None, role="", is_staff=True)
    users["superuser"] = UserFactory(
        username="sistema.superusuario", institution=None, role="", is_staff=True, is_superuser=True
    )
    users["anonymous"] = None
    return institutions, users


def build_scenario() -> Scenario:
    """A case led by ``lead`` (with a RUC and a PDI report number): one victim (with a consent),
    one offender, one active share per ``shared_*`` relation, and a pending access request from
    ``unrelated``."""
    institutions, users = make_users()
    lead_officer = users[f"lead-{Role.CASE_OFFICER.value}"]
    case = case_create(
        actor=None,
        lead_institution=institutions["lead"],
        data={"intake_date": datetime.date(2023, 3, 1), "purpose": "explotacion_sexual", "ruc": CASE_RUC},
        external_references=[(SyncSource.PDI_REPORT.value, CASE_REFERENCES[SyncSource.PDI_REPORT.value])],
    )
    document = valid_run(16_482_337)
    victim = victim_register(
        actor=None,
        institution=institutions["lead"],
        given_names="Matilde",
        surnames="Ccori",
        document_type="run",
        document_number=document,
        sex=Sex.FEMALE,
        nationality="BO",
    )
    victim_link_to_case(actor=None, victim=victim, case=case)
    offender = offender_register(actor=None, given_names="Ruperto", surnames="Lagos", sex=Sex.MALE, nationality="CL")
    offender_link_to_case(actor=None, offender=offender, case=case)
    consent = consent_record(
        actor=lead_officer, victim_id=victim.pk, given_on=datetime.date(2024, 1, 10), scope="Con el SernamEG"
    )
    share_ids = {
        relation: case_share(
            actor=lead_officer,
            case_id=case.pk,
            institution=institutions[relation],
            reason="Coordinación de la atención",
            **grants,
        ).pk
        for relation, grants in SHARES.items()
    }
    (request,) = access_request_create(
        actor=users[f"unrelated-{Role.CASE_OFFICER.value}"],
        document_type="run",
        document_number=document,
        reason="La atendemos en nuestro programa",
    )
    return Scenario(
        institutions=institutions,
        users=users,
        case_id=case.pk,
        victim_ids=[victim.pk],
        offender_id=offender.pk,
        consent_id=consent.pk,
        request_id=request.pk,
        share_ids=share_ids,
        victim_codes=[victim.code],
        references=dict(CASE_REFERENCES),
    )


# --- the URL resolver --------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", or "<unnamed ...>" for a pattern without a name
    route: str  # the pattern as written, prefixes included
    kwargs: frozenset[str]  # names of the captured values, prefixes included
    captures: bool  # takes at least one value from the path (named or not)
    namespaces: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.namespaces[:1] == ("admin",)

    @property
    def is_api(self) -> bool:
        return self.namespaces[:1] == ("api",)


def _captured(pattern) -> tuple[frozenset[str], bool]:
    if isinstance(pattern, RoutePattern):
        names = frozenset(pattern.converters)
        return names, bool(names)
    regex = pattern.regex
    return frozenset(regex.groupindex), regex.groups > 0


def walk_routes(resolver: URLResolver | None = None, namespaces=(), prefix="", kwargs=frozenset(), captures=False):
    """Every URL pattern reachable from the root URLconf, with its full namespaced name."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        names, captured = _captured(entry.pattern)
        route, all_names, any_capture = prefix + str(entry.pattern), kwargs | names, captures or captured
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from walk_routes(entry, inner, route, all_names, any_capture)
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespaces, entry.name)) if entry.name else f"<unnamed {route}>"
            yield Route(name=name, route=route, kwargs=all_names, captures=any_capture, namespaces=tuple(namespaces))


def application_routes() -> Iterator[Route]:
    """Every route but the Django admin's (which never shows case content)."""
    return (route for route in walk_routes() if not route.is_admin)
