"""Sharing a victim with no case (Protocolo de Atención): victims.sharing and what the selectors
make of it (victims.selectors).

The registering institution holds over such a victim what a lead holds over a case: it shares
at *ver*, *ver identidad* (on a legal basis or the victim's active consent) and *colaborar*,
and revokes. What each grant opens is checked for every grant kind against every reading
selector; once the victim is linked to a case, the case's grants govern and the victim's shares
open nothing. Real PostgreSQL, no mocks.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from cases.services import case_create
from cases.sharing import case_share
from institutions.constants import Role
from institutions.models import Institution, User
from kernel.constants import AccessAction
from kernel.errors import DomainError
from kernel.models import AccessEvent
from protocol.constants import RequestedBy
from protocol.selectors import activation_list
from protocol.services import activation_open_for_new_person
from tests.factories import InstitutionFactory, UserFactory, valid_run
from victims.consent import consent_record, consent_withdraw
from victims.constants import VictimPermission
from victims.identity import victim_identity_reveal
from victims.models import Victim, VictimConsent, VictimShare
from victims.selectors import (
    caseless_victim_permissions,
    document_registered_elsewhere,
    victim_get,
    victim_identity_allowed,
    victim_list,
    victim_shares,
    victims_known_by_document,
)
from victims.services import CASELESS_LINK_REFUSED_MESSAGE, victim_link_check, victim_link_to_case
from victims.sharing import victim_share, victim_unshare

pytestmark = pytest.mark.django_db

LEGAL_BASIS = "Resolución del Juzgado de Garantía de Arica, RIT 88-2025"
DOCUMENT = valid_run(17_654_321)
REASON = "Coordinación de la casa de acogida"
VER, IDENTITY, COLLABORATE, ADMINISTER = VictimPermission.ALL


@dataclass
class World:
    registering: Institution
    grantee: Institution
    stranger: Institution
    victim: Victim
    consent: VictimConsent
    users: dict[str, User]

    def user(self, name: str) -> User:
        return self.users[name]


@pytest.fixture
def world(db) -> World:
    registering = InstitutionFactory(name="Corporación Anide", short_name="ANIDE")
    grantee = InstitutionFactory(name="Servicio de Salud Arica", short_name="SS-ARICA")
    stranger = InstitutionFactory(name="Carabineros de Chile", short_name="CARABINEROS")
    users = {
        f"{name}-{role}": UserFactory(username=f"{name}.{role}", institution=institution, role=role)
        for name, institution in (("registering", registering), ("grantee", grantee), ("stranger", stranger))
        for role in (Role.READER, Role.CASE_OFFICER, Role.INSTITUTION_ADMIN)
    }
    users["staff"] = UserFactory(username="staff", institution=None, role="", is_staff=True)
    users["superuser"] = UserFactory(
        username="superusuario", institution=None, role="", is_staff=True, is_superuser=True
    )
    officer = users["registering-oficial"]
    activation = activation_open_for_new_person(
        actor=officer,
        person={"given_names": "Yolanda", "surnames": "Mamani", "document_type": "run", "document_number": DOCUMENT},
        requested_by=RequestedBy.VICTIM,
        requested_on=datetime.date(2025, 3, 1),
    )
    consent = consent_record(
        actor=officer, victim_id=activation.victim_id, given_on=datetime.date(2025, 3, 2), scope="Con el SS Arica"
    )
    return World(registering, grantee, stranger, activation.victim, consent, users)


def share(world: World, **grants) -> VictimShare:
    return victim_share(
        actor=world.user("registering-oficial"),
        victim_id=world.victim.pk,
        institution=world.grantee,
        reason=REASON,
        **grants,
    )


def link_to_a_case_of_the_registering_institution(world: World) -> None:
    case = case_create(actor=None, lead_institution=world.registering, data={"intake_date": datetime.date(2025, 4, 1)})
    victim_link_to_case(actor=None, victim=world.victim, case=case)


# --- what each grant opens, for every reading selector ------------------------------------------

GRANTS = {
    "nothing": None,
    "ver": {},
    "identity-on-legal-basis": {"can_view_identity": True, "legal_basis": LEGAL_BASIS},
    "identity-on-consent": {"can_view_identity": True, "consent": True},
    "identity-on-consent-withdrawn": {"can_view_identity": True, "consent": True, "withdraw": True},
    "collaborate": {"can_collaborate": True},
    "everything-on-legal-basis": {"can_view_identity": True, "legal_basis": LEGAL_BASIS, "can_collaborate": True},
    "revoked": {"can_view_identity": True, "legal_basis": LEGAL_BASIS, "revoke": True},
}
# grant → (sees the victim, reads identity, what it holds)
OPENS = {
    "nothing": (False, False, frozenset()),
    "ver": (True, False, {VER}),
    "identity-on-legal-basis": (True, True, {VER, IDENTITY}),
    "identity-on-consent": (True, True, {VER, IDENTITY}),
    "identity-on-consent-withdrawn": (True, False, {VER}),
    "collaborate": (True, False, {VER, COLLABORATE}),
    "everything-on-legal-basis": (True, True, {VER, IDENTITY, COLLABORATE}),
    "revoked": (False, False, frozenset()),
}


def give(world: World, grant: str) -> None:
    options = dict(GRANTS[grant] or {})
    if GRANTS[grant] is None:
        return
    withdraw, revoke = options.pop("withdraw", False), options.pop("revoke", False)
    if options.pop("consent", False):
        options["consent_id"] = world.consent.pk
    given = share(world, **options)
    if withdraw:
        consent_withdraw(
            actor=world.user("registering-oficial"), victim_id=world.victim.pk, consent_id=world.consent.pk
        )
    if revoke:
        victim_unshare(
            actor=world.user("registering-oficial"), victim_id=world.victim.pk, share_id=given.pk, reason="Fin"
        )


def readings(world: World, user: User) -> dict:
    """Everything the selectors say about the victim to this user."""
    victim = Victim.objects.get(pk=world.victim.pk)
    known = victims_known_by_document(user=user, document_type="run", document_number=DOCUMENT, case_id=0)
    return {
        "listed": victim_list(user=user).filter(pk=victim.pk).exists(),
        "identity": victim_identity_allowed(user=user, victim=victim),
        "permissions": caseless_victim_permissions(user=user, victim=victim),
        "known_by_document": [item.code for item in known],
        "named_elsewhere": document_registered_elsewhere(user=user, document_type="run", document_number=DOCUMENT),
    }


@pytest.mark.parametrize("role", [Role.READER, Role.CASE_OFFICER, Role.INSTITUTION_ADMIN])
@pytest.mark.parametrize("grant", list(GRANTS))
def test_each_grant_opens_to_every_role_of_the_grantee_exactly_what_it_gives(world, grant, role):
    give(world, grant)
    sees, identity, held = OPENS[grant]
    assert readings(world, world.user(f"grantee-{role}")) == {
        "listed": sees,
        "identity": identity,
        "permissions": frozenset(held),
        # Only identity ties the document to the record; at *ver* the person answers as unknown,
        # and the registering institution is not named either.
        "known_by_document": [world.victim.code] if identity else [],
        "named_elsewhere": [] if sees else ["Corporación Anide"],
    }
    getter = (lambda: victim_get(user=world.user(f"grantee-{role}"), victim_id=world.victim.pk)) if sees else None
    if getter:
        assert getter().pk == world.victim.pk
    else:
        with pytest.raises(Http404):
            victim_get(user=world.user(f"grantee-{role}"), victim_id=world.victim.pk)


@pytest.mark.parametrize("grant", list(GRANTS))
def test_once_linked_to_a_case_the_case_governs_and_no_victim_share_opens_anything(world, grant):
    give(world, grant)
    link_to_a_case_of_the_registering_institution(world)
    for role in (Role.READER, Role.CASE_OFFICER, Role.INSTITUTION_ADMIN):
        assert readings(world, world.user(f"grantee-{role}")) == {
            "listed": False,
            "identity": False,
            "permissions": frozenset(),
            "known_by_document": [],
            "named_elsewhere": ["Corporación Anide"],  # now as the lead of a case it cannot see
        }
    # The registering institution keeps the victim through its case, and no longer shares it.
    officer = world.user("registering-oficial")
    assert victim_identity_allowed(user=officer, victim=world.victim)
    assert caseless_victim_permissions(user=officer, victim=world.victim) == frozenset()
    with pytest.raises(PermissionDenied, match="vinculada a una causa"):
        share(world)


@pytest.mark.parametrize("grant", list(GRANTS))
@pytest.mark.parametrize(
    "subject", ["stranger-lector", "stranger-oficial", "stranger-administrador", "staff", "superuser"]
)
def test_a_share_opens_nothing_to_anyone_but_its_grantee(world, grant, subject):
    give(world, grant)
    assert readings(world, world.user(subject)) == {
        "listed": False,
        "identity": False,
        "permissions": frozenset(),
        "known_by_document": [],
        "named_elsewhere": ["Corporación Anide"] if world.user(subject).institution_id else [],
    }


@pytest.mark.parametrize("role", [Role.READER, Role.CASE_OFFICER, Role.INSTITUTION_ADMIN])
def test_the_registering_institution_holds_everything_over_its_victim_whatever_it_shared(world, role):
    share(world, can_view_identity=True, legal_basis=LEGAL_BASIS, can_collaborate=True)
    assert readings(world, world.user(f"registering-{role}")) == {
        "listed": True,
        "identity": True,
        "permissions": frozenset(VictimPermission.ALL),
        "known_by_document": [world.victim.code],
        "named_elsewhere": [],
    }


def test_the_grantees_protocol_view_follows_the_share(world):
    grantee = world.user("grantee-lector")
    assert not activation_list(user=grantee).exists()
    given = share(world)
    assert activation_list(user=grantee).filter(victim=world.victim).exists()
    victim_unshare(actor=world.user("registering-oficial"), victim_id=world.victim.pk, share_id=given.pk, reason="Fin")
    assert not activation_list(user=grantee).exists()


# --- sharing: who, what is refused, what is recorded --------------------------------------------


def test_sharing_records_the_grant_and_an_access_log_event_naming_the_victim_by_code(world):
    given = share(world, can_view_identity=True, legal_basis=f"  {LEGAL_BASIS}  ", can_collaborate=True)
    assert (given.institution, given.granted_by, given.legal_basis, given.consent) == (
        world.grantee,
        world.user("registering-oficial"),
        LEGAL_BASIS,
        None,
    )
    event = AccessEvent.objects.filter(action=AccessAction.SHARE).latest("id")
    assert event.victim_code == world.victim.code and event.case_id is None and event.rests_on_legal_basis
    assert event.details == {
        "victim_share_id": given.pk,
        "grantee_institution_id": world.grantee.pk,
        "permissions": [VER, IDENTITY, COLLABORATE],
        "consent_id": None,
    }
    assert event.institution_id == world.registering.pk


def test_identity_on_consent_points_to_the_consent_and_the_legal_basis_is_not_kept_without_identity(world):
    on_consent = share(world, can_view_identity=True, consent_id=world.consent.pk)
    assert on_consent.consent == world.consent and on_consent.legal_basis == ""
    other = InstitutionFactory()
    without_identity = victim_share(
        actor=world.user("registering-oficial"),
        victim_id=world.victim.pk,
        institution=other,
        reason=REASON,
        legal_basis=LEGAL_BASIS,
    )
    assert without_identity.legal_basis == "" and not without_identity.can_view_identity


def test_a_legal_basis_wins_over_a_consent_so_the_share_never_rests_on_it(world):
    given = share(world, can_view_identity=True, legal_basis=LEGAL_BASIS, consent_id=world.consent.pk)
    assert given.consent is None
    consent_withdraw(actor=world.user("registering-oficial"), victim_id=world.victim.pk, consent_id=world.consent.pk)
    given.refresh_from_db()
    assert given.can_view_identity and victim_identity_allowed(user=world.user("grantee-lector"), victim=world.victim)


def another_victims_consent(world: World) -> VictimConsent:
    other = activation_open_for_new_person(
        actor=world.user("registering-oficial"),
        person={"given_names": "Otra"},
        requested_by=RequestedBy.VICTIM,
        requested_on=datetime.date(2025, 3, 1),
    ).victim
    return consent_record(
        actor=world.user("registering-oficial"), victim_id=other.pk, given_on=datetime.date(2025, 3, 2), scope="X"
    )


def withdrawn_consent(world: World) -> VictimConsent:
    consent = consent_record(
        actor=world.user("registering-oficial"),
        victim_id=world.victim.pk,
        given_on=datetime.date(2025, 1, 2),
        scope="Y",
    )
    return consent_withdraw(actor=world.user("registering-oficial"), victim_id=world.victim.pk, consent_id=consent.pk)


REFUSED_INPUT = {
    "no reason": ({"reason": "  "}, "reason"),
    "no institution": ({"institution": None}, "institution"),
    "the registering institution": ({"institution": "registering"}, "institution"),
    "an inactive institution": ({"institution": "inactive"}, "institution"),
    "identity without a basis": ({"can_view_identity": True}, "legal_basis"),
    "identity on another victim's consent": ({"can_view_identity": True, "consent_id": "other"}, "consent"),
    "identity on a withdrawn consent": ({"can_view_identity": True, "consent_id": "withdrawn"}, "consent"),
    "identity on a consent that does not exist": ({"can_view_identity": True, "consent_id": 999_999}, "consent"),
}


@pytest.mark.parametrize("case", list(REFUSED_INPUT))
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(world, case):
    changes, field = REFUSED_INPUT[case]
    arguments = {"institution": world.grantee, "reason": REASON, **changes}
    arguments["institution"] = {
        "registering": world.registering,
        "inactive": InstitutionFactory(is_active=False),
    }.get(arguments["institution"], arguments["institution"])
    arguments["consent_id"] = {
        "other": lambda: another_victims_consent(world).pk,
        "withdrawn": lambda: withdrawn_consent(world).pk,
    }.get(arguments.get("consent_id"), lambda: arguments.get("consent_id"))()
    events = AccessEvent.objects.filter(action=AccessAction.SHARE).count()
    with pytest.raises(ValidationError) as refused:
        victim_share(actor=world.user("registering-oficial"), victim_id=world.victim.pk, **arguments)
    assert field in refused.value.message_dict
    assert not VictimShare.objects.exists()
    assert AccessEvent.objects.filter(action=AccessAction.SHARE).count() == events


def test_a_second_active_share_with_the_same_institution_is_refused_until_the_first_is_revoked(world):
    first = share(world)
    with pytest.raises(DomainError, match="Revoque el acceso para cambiarlo"):
        share(world, can_collaborate=True)
    victim_unshare(
        actor=world.user("registering-oficial"), victim_id=world.victim.pk, share_id=first.pk, reason="Cambio"
    )
    assert share(world, can_collaborate=True).can_collaborate


REFUSED_ACTORS = {
    "registering-lector": PermissionDenied,
    "registering-administrador": PermissionDenied,
    "stranger-oficial": Http404,
    "stranger-lector": Http404,
    "staff": Http404,
    "superuser": Http404,
}


@pytest.mark.parametrize("actor", list(REFUSED_ACTORS))
def test_only_an_officer_of_the_registering_institution_shares_or_revokes(world, actor):
    given = share(world, can_view_identity=True, legal_basis=LEGAL_BASIS, can_collaborate=True)
    before = list(VictimShare.objects.values_list("id", "can_view_identity", "revoked_at"))
    with pytest.raises(REFUSED_ACTORS[actor]):
        victim_share(actor=world.user(actor), victim_id=world.victim.pk, institution=world.stranger, reason=REASON)
    with pytest.raises(REFUSED_ACTORS[actor]):
        victim_unshare(actor=world.user(actor), victim_id=world.victim.pk, share_id=given.pk, reason="Fin")
    assert list(VictimShare.objects.values_list("id", "can_view_identity", "revoked_at")) == before


@pytest.mark.parametrize("role", [Role.READER, Role.CASE_OFFICER, Role.INSTITUTION_ADMIN])
def test_a_grantee_even_with_every_grant_neither_shares_further_nor_revokes_nor_reads_the_grants(world, role):
    given = share(world, can_view_identity=True, legal_basis=LEGAL_BASIS, can_collaborate=True)
    grantee = world.user(f"grantee-{role}")
    with pytest.raises(PermissionDenied, match="Solo la institución que registró"):
        victim_share(actor=grantee, victim_id=world.victim.pk, institution=world.stranger, reason=REASON)
    with pytest.raises(PermissionDenied):
        victim_unshare(actor=grantee, victim_id=world.victim.pk, share_id=given.pk, reason="Fin")
    with pytest.raises(PermissionDenied):
        victim_shares(user=grantee, victim_id=world.victim.pk)
    assert VictimShare.objects.filter(revoked_at__isnull=True).count() == 1


# --- revoking --------------------------------------------------------------------------------


def test_revoking_closes_the_victim_to_the_grantee_at_once_and_is_recorded(world):
    given = share(world, can_view_identity=True, legal_basis=LEGAL_BASIS)
    grantee = world.user("grantee-oficial")
    assert victim_identity_reveal(user=grantee, victim_id=world.victim.pk)["given_names"] == "Yolanda"
    victim_unshare(
        actor=world.user("registering-oficial"), victim_id=world.victim.pk, share_id=given.pk, reason=" Terminó "
    )
    given.refresh_from_db()
    assert (given.revoked_by, given.revoke_reason) == (world.user("registering-oficial"), "Terminó")
    with pytest.raises(Http404):
        victim_identity_reveal(user=grantee, victim_id=world.victim.pk)
    event = AccessEvent.objects.filter(action=AccessAction.UNSHARE).latest("id")
    assert event.victim_code == world.victim.code
    assert event.details == {"victim_share_id": given.pk, "grantee_institution_id": world.grantee.pk}


def test_revoking_needs_a_reason_and_a_share_of_this_victim_still_active(world):
    given = share(world)
    officer = world.user("registering-oficial")
    with pytest.raises(ValidationError) as refused:
        victim_unshare(actor=officer, victim_id=world.victim.pk, share_id=given.pk, reason=" ")
    assert "reason" in refused.value.message_dict
    assert VictimShare.objects.get(pk=given.pk).is_active
    other = activation_open_for_new_person(
        actor=officer, person={}, requested_by=RequestedBy.VICTIM, requested_on=datetime.date(2025, 3, 1)
    ).victim
    with pytest.raises(Http404):
        victim_unshare(actor=officer, victim_id=other.pk, share_id=given.pk, reason="Fin")
    victim_unshare(actor=officer, victim_id=world.victim.pk, share_id=given.pk, reason="Fin")
    with pytest.raises(DomainError, match="ya fue revocado"):
        victim_unshare(actor=officer, victim_id=world.victim.pk, share_id=given.pk, reason="Otra vez")


# --- consent ---------------------------------------------------------------------------------


def test_withdrawing_the_consent_removes_at_once_the_identity_that_rested_on_it_and_says_so(world):
    given = share(world, can_view_identity=True, consent_id=world.consent.pk, can_collaborate=True)
    grantee = world.user("grantee-lector")
    assert victim_identity_allowed(user=grantee, victim=world.victim)
    consent_withdraw(actor=world.user("registering-oficial"), victim_id=world.victim.pk, consent_id=world.consent.pk)
    given.refresh_from_db()
    assert not given.can_view_identity and given.can_collaborate and given.is_active
    with pytest.raises(PermissionDenied):
        victim_identity_reveal(user=grantee, victim_id=world.victim.pk)
    assert victim_get(user=grantee, victim_id=world.victim.pk)  # still at ver
    dropped = AccessEvent.objects.filter(action=AccessAction.UNSHARE).latest("id")
    assert dropped.details == {
        "victim_share_id": given.pk,
        "grantee_institution_id": world.grantee.pk,
        "permissions_removed": [IDENTITY],
        "because_consent_withdrawn": world.consent.pk,
    }
    withdrawal = AccessEvent.objects.filter(action=AccessAction.CONSENT_WITHDRAWN).latest("id")
    assert withdrawal.details["identity_access_removed_from_victim_shares"] == [given.pk]


def test_a_grantee_with_identity_may_record_and_withdraw_the_victims_consent_as_on_a_case(world):
    share(world, can_view_identity=True, legal_basis=LEGAL_BASIS)
    consent = consent_record(
        actor=world.user("grantee-oficial"), victim_id=world.victim.pk, given_on=datetime.date(2025, 3, 3), scope="Z"
    )
    assert consent.recorded_by_institution == world.grantee
    share_at_ver = victim_share(
        actor=world.user("registering-oficial"), victim_id=world.victim.pk, institution=world.stranger, reason=REASON
    )
    assert share_at_ver.pk
    with pytest.raises(PermissionDenied):
        consent_record(
            actor=world.user("stranger-oficial"),
            victim_id=world.victim.pk,
            given_on=datetime.date(2025, 3, 3),
            scope="Z",
        )


# --- identity reads on a share are audited as such ------------------------------------------------


@pytest.mark.parametrize(
    ("grants", "on_legal_basis"),
    [({"legal_basis": LEGAL_BASIS}, True), ({"consent_id": "consent"}, False)],
    ids=["legal-basis", "consent"],
)
def test_a_grantees_identity_read_is_logged_with_what_it_rests_on(world, grants, on_legal_basis):
    if grants.get("consent_id"):
        grants = {"consent_id": world.consent.pk}
    share(world, can_view_identity=True, **grants)
    victim_identity_reveal(user=world.user("grantee-lector"), victim_id=world.victim.pk)
    event = AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).latest("id")
    assert (event.victim_code, event.institution_id, event.rests_on_legal_basis) == (
        world.victim.code,
        world.grantee.pk,
        on_legal_basis,
    )
    victim_identity_reveal(user=world.user("registering-lector"), victim_id=world.victim.pk)
    assert not AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).latest("id").rests_on_legal_basis


# --- linking the victim into a case ---------------------------------------------------------------


def test_a_grantee_with_identity_may_not_take_the_victim_into_a_case_of_its_own(world):
    share(world, can_view_identity=True, legal_basis=LEGAL_BASIS, can_collaborate=True)
    own_case = case_create(
        actor=world.user("grantee-oficial"),
        lead_institution=world.grantee,
        data={"intake_date": datetime.date(2025, 4, 1)},
    )
    with pytest.raises(PermissionDenied) as refused:
        victim_link_check(actor=world.user("grantee-oficial"), case_id=own_case.pk, victim_id=world.victim.pk)
    assert str(refused.value) == str(CASELESS_LINK_REFUSED_MESSAGE)
    known = victims_known_by_document(
        user=world.user("grantee-oficial"), document_type="run", document_number=DOCUMENT, case_id=own_case.pk
    )
    assert [(item.code, item.may_link, item.rests_on_legal_basis) for item in known] == [
        (world.victim.code, False, True)
    ]


def test_the_registering_institution_links_its_victim_into_a_case_and_its_shares_then_give_nothing(world):
    share(world, can_view_identity=True, legal_basis=LEGAL_BASIS)
    officer = world.user("registering-oficial")
    own_case = case_create(
        actor=officer, lead_institution=world.registering, data={"intake_date": datetime.date(2025, 4, 1)}
    )
    case, victim = victim_link_check(actor=officer, case_id=own_case.pk, victim_id=world.victim.pk)
    victim_link_to_case(actor=officer, victim=victim, case=case)
    with pytest.raises(Http404):
        victim_get(user=world.user("grantee-oficial"), victim_id=world.victim.pk)
    # Sharing the case is how the grantee gets it back.
    case_share(actor=officer, case_id=case.pk, institution=world.grantee, reason=REASON)
    assert victim_get(user=world.user("grantee-oficial"), victim_id=world.victim.pk)
    assert not victim_identity_allowed(user=world.user("grantee-oficial"), victim=world.victim)


# --- what the database itself refuses ---------------------------------------------------------


def raw_share(world: World, **fields) -> VictimShare:
    values = {
        "victim": world.victim,
        "institution": world.grantee,
        "reason": REASON,
        "granted_by": world.user("registering-oficial"),
        **fields,
    }
    return VictimShare.objects.create(**values)


DATABASE_REFUSES = {
    "a second active share with one institution": lambda w: (raw_share(w), raw_share(w)),
    "a share with the registering institution": lambda w: raw_share(w, institution=w.registering),
    "identity with no basis": lambda w: raw_share(w, can_view_identity=True),
    "a legal basis without identity": lambda w: raw_share(w, legal_basis=LEGAL_BASIS),
    "a legal basis and a consent": lambda w: raw_share(
        w, can_view_identity=True, legal_basis=LEGAL_BASIS, consent=w.consent
    ),
    "another victim's consent": lambda w: raw_share(w, can_view_identity=True, consent=another_victims_consent(w)),
    "no reason": lambda w: raw_share(w, reason=""),
    "a revocation without who": lambda w: raw_share(w, revoked_at=timezone.now(), revoke_reason="Fin"),
    "a revocation without why": lambda w: raw_share(
        w, revoked_at=timezone.now(), revoked_by=w.user("registering-oficial")
    ),
    "moving a share to the registering institution": lambda w: VictimShare.objects.filter(pk=raw_share(w).pk).update(
        institution=w.registering
    ),
}


@pytest.mark.parametrize("case", list(DATABASE_REFUSES))
def test_the_database_refuses(world, case):
    with pytest.raises(IntegrityError), transaction.atomic():
        DATABASE_REFUSES[case](world)


def test_the_database_accepts_a_revoked_share_next_to_an_active_one(world):
    raw_share(world, revoked_at=timezone.now(), revoked_by=world.user("registering-oficial"), revoke_reason="Fin")
    raw_share(world)
    assert VictimShare.objects.count() == 2


def test_a_victim_share_is_not_a_case_permission_a_system_administrator_could_grant(db):
    from django.contrib.auth.models import Permission

    assert not Permission.objects.filter(content_type__app_label="victims", content_type__model="victimshare").exists()
