"""Scoped access of a referral's provider: the minimum data of the referred person, for that
referral only, audited on every read, and only while the referral is open (access-model.md:
"a provider of an open referral sees that referral and the minimum data needed to serve it ...
no case facts, no offenders, no other referrals - until the referral closes"); and the
provider's inbox."""

from __future__ import annotations

import dataclasses
import datetime
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from cases.models import Case, CaseOffender
from cases.selectors import case_get, case_list
from institutions.models import Institution, User
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from protocol.constants import (
    OPEN_REFERRAL_STATES,
    REFERRAL_ACTIONS_NEEDING_A_REASON,
    ActivationAction,
    ReferralAction,
    ReferralState,
    ServiceType,
)
from protocol.models import Referral, ReferralTransition
from protocol.referrals import (
    provider_inbox,
    referral_create,
    referral_get,
    referral_transition,
    referral_victim_for_provider,
)
from protocol.selectors import activation_get, activation_list
from protocol.services import activation_transition
from tests.factories import CaseFactory, InstitutionFactory, OffenderFactory, UserFactory
from tests.protocol.referral_helpers import World, active_activation, make_world
from victims.identity import offender_identity_reveal, victim_identity_reveal
from victims.models import CaseVictim, Victim
from victims.selectors import victim_get, victim_list

pytestmark = pytest.mark.django_db

OPEN_STATES = list(OPEN_REFERRAL_STATES)
CLOSED_STATES = [state for state in ReferralState.values if state not in OPEN_REFERRAL_STATES]

# What the provider receives (name, document, contact, sex, age, code) and nothing else.
MINIMUM_DATA_KEYS = {
    "code",
    "given_names",
    "surnames",
    "document_type",
    "document_number",
    "phone",
    "email",
    "sex",
    "birth_year",
    "age_at_identification",
}

# Planted in the records the provider must never read through its referral.
VICTIM_ADDRESS = "Pasaje Escondido 1234, Alto Hospicio"
VICTIM_NOTES = "Relato reservado: la explotación ocurrió en un local de Iquique"
OFFENDER_GIVEN_NAMES = "Bartolomé"
OFFENDER_SURNAMES = "Villagrán-Imputado"
CASE_RUC = "2300099999-9"
REFERRAL_NOTE = "Necesita alojamiento esta noche"


@dataclasses.dataclass
class Scene:
    world: World
    victim: Victim
    case: Case
    offender_id: object
    other_provider: Institution
    other_provider_officer: User
    other_referral: Referral

    def refer(self, state: str) -> Referral:
        return self.world.referral_in(state)


@pytest.fixture
def scene() -> Scene:
    """The referrer's victim, in a case the referrer leads with one offender, in an active
    protocol; a second provider holding another referral of the same person."""
    world = make_world()
    victim = world.activation.victim
    victim.phone = "+56 9 8765 4321"
    victim.email = "persona@example.cl"
    victim.address = VICTIM_ADDRESS
    victim.notes = VICTIM_NOTES
    victim.birth_year = 1995
    victim.age_at_identification = 28
    victim.save()
    case = CaseFactory(lead_institution=world.referrer, ruc=CASE_RUC)
    CaseVictim.objects.create(case=case, victim=victim)
    offender = OffenderFactory(given_names=OFFENDER_GIVEN_NAMES, surnames=OFFENDER_SURNAMES)
    CaseOffender.objects.create(case=case, offender=offender)

    other_provider = InstitutionFactory(short_name="MINSAL-P", name="Servicio de salud (presta)")
    other_provider_officer = UserFactory(institution=other_provider)
    other_referral = referral_create(
        actor=world.referrer_officer,
        activation_id=world.activation.pk,
        service_type=ServiceType.HEALTH,
        provider_id=other_provider.pk,
        note="Control de salud",
    )
    return Scene(
        world=world,
        victim=victim,
        case=case,
        offender_id=offender.pk,
        other_provider=other_provider,
        other_provider_officer=other_provider_officer,
        other_referral=other_referral,
    )


def identity_reads() -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).order_by("id"))


def snapshot(referral_id) -> tuple[dict, list]:
    row = Referral.objects.filter(pk=referral_id).values().get()
    moves = list(ReferralTransition.objects.filter(referral_id=referral_id).values_list("pk", flat=True))
    return row, moves


def assert_not_found(call, referral_id) -> None:
    """``call(referral_id)`` raises Http404 with the very message of a referral that does not
    exist: a closed or foreign referral is not told apart from a missing one."""
    with pytest.raises(Http404) as refused:
        call(referral_id)
    with pytest.raises(Http404) as missing:
        call(uuid.uuid4())
    assert str(refused.value) == str(missing.value)


def assert_the_provider_does_not_see(user: User, referral: Referral) -> None:
    """For ``user`` of the provider institution, ``referral`` is not there: no referral, no data,
    no move (and nothing written), no place in the inbox; no identity read is logged."""
    before = snapshot(referral.pk)
    reads_before = len(identity_reads())
    assert_not_found(lambda pk: referral_get(user=user, referral_id=pk), referral.pk)
    assert_not_found(lambda pk: referral_victim_for_provider(user=user, referral_id=pk), referral.pk)
    for action in ReferralAction.values:
        note = "Motivo." if action in REFERRAL_ACTIONS_NEEDING_A_REASON else ""
        assert_not_found(
            lambda pk, action=action, note=note: referral_transition(
                actor=user, referral_id=pk, action=action, note=note
            ),
            referral.pk,
        )
    assert referral not in provider_inbox(user=user)
    assert snapshot(referral.pk) == before
    assert len(identity_reads()) == reads_before


# --- the minimum data, while the referral is open ------------------------------------------------


@pytest.mark.parametrize("state", OPEN_STATES)
@pytest.mark.parametrize("who", ["provider_officer", "provider_reader"])
def test_the_provider_reads_the_minimum_data_while_the_referral_is_open(scene, state, who):
    referral = scene.refer(state)
    user = getattr(scene.world, who)

    data = referral_victim_for_provider(user=user, referral_id=referral.pk, ip_address="10.0.0.7")

    assert data == {
        "code": scene.victim.code,
        "given_names": "Ana",
        "surnames": "Pérez",
        "document_type": scene.victim.document_type,
        "document_number": scene.victim.document_number,
        "phone": "+56 9 8765 4321",
        "email": "persona@example.cl",
        "sex": scene.victim.sex,
        "birth_year": 1995,
        "age_at_identification": 28,
    }
    (event,) = identity_reads()
    assert event.action == AccessAction.IDENTITY_READ
    assert event.victim_code == scene.victim.code
    assert event.details["referral"] == str(referral.pk)
    assert event.actor_id == user.pk
    assert event.institution_id == scene.world.provider.pk
    assert event.case_id is None
    assert event.ip_address == "10.0.0.7"
    # The access log never holds identity.
    logged = str(event.details)
    assert "Ana" not in logged and scene.victim.document_number not in logged


def test_every_read_writes_exactly_one_event(scene):
    referral = scene.refer(ReferralState.PENDING)

    for expected in (1, 2, 3):
        referral_victim_for_provider(user=scene.world.provider_officer, referral_id=referral.pk)
        events = identity_reads()
        assert len(events) == expected
        assert events[-1].victim_code == scene.victim.code
        assert events[-1].details["referral"] == str(referral.pk)


def test_the_data_holds_nothing_of_the_case_the_offenders_or_the_notes(scene):
    referral = scene.refer(ReferralState.IN_PROGRESS)

    data = referral_victim_for_provider(user=scene.world.provider_officer, referral_id=referral.pk)

    assert set(data) == MINIMUM_DATA_KEYS
    assert not set(data) & {"address", "notes", "birth_date", "nationality", "case", "cases", "offenders"}
    text = repr(data)
    for secret in (
        VICTIM_ADDRESS,
        VICTIM_NOTES,
        OFFENDER_GIVEN_NAMES,
        OFFENDER_SURNAMES,
        CASE_RUC,
        REFERRAL_NOTE,
        str(scene.other_referral.pk),
    ):
        assert secret not in text


# --- nothing else --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ReferralState.values)
def test_the_provider_gets_nothing_else(scene, state):
    referral = scene.refer(state)
    provider = scene.world.provider_officer

    if state in OPEN_REFERRAL_STATES:
        assert referral_get(user=provider, referral_id=referral.pk).pk == referral.pk
    else:  # closed: not even the referral any more
        assert_the_provider_does_not_see(provider, referral)
    with pytest.raises(Http404):
        victim_get(user=provider, victim_id=scene.victim.pk)
    assert not victim_list(user=provider).filter(pk=scene.victim.pk).exists()
    with pytest.raises(Http404):
        victim_identity_reveal(user=provider, victim_id=scene.victim.pk)
    assert not case_list(user=provider).filter(pk=scene.case.pk).exists()
    with pytest.raises(Http404):
        case_get(user=provider, case_id=scene.case.pk)
    with pytest.raises(Http404):
        offender_identity_reveal(user=provider, case_id=scene.case.pk, offender_id=scene.offender_id)
    with pytest.raises(Http404):
        activation_get(user=provider, activation_id=scene.world.activation.pk)
    assert not activation_list(user=provider).exists()
    # The same person's referral to another provider.
    with pytest.raises(Http404):
        referral_get(user=provider, referral_id=scene.other_referral.pk)
    with pytest.raises(Http404):
        referral_victim_for_provider(user=provider, referral_id=scene.other_referral.pk)
    assert identity_reads() == []


def test_the_inbox_holds_no_other_providers_referral_of_the_same_person(scene):
    mine = scene.refer(ReferralState.PENDING)

    assert list(provider_inbox(user=scene.world.provider_officer)) == [mine]
    assert list(provider_inbox(user=scene.other_provider_officer)) == [scene.other_referral]


# --- after the referral closes -----------------------------------------------------------------


@pytest.mark.parametrize("state", CLOSED_STATES)
@pytest.mark.parametrize("who", ["provider_officer", "provider_reader"])
def test_a_closed_referral_gives_no_data_and_logs_nothing(scene, state, who):
    """Closed, the referral is no longer the provider's (access-model.md: "until the referral
    closes"): 404 as for a referral that does not exist, for the referral, its data and its moves;
    the referring institution still sees it."""
    referral = scene.refer(state)

    assert_the_provider_does_not_see(getattr(scene.world, who), referral)
    assert identity_reads() == []
    for user in (scene.world.referrer_officer, scene.world.referrer_reader):
        assert referral_get(user=user, referral_id=referral.pk).state == state


def test_the_provider_loses_the_data_the_moment_its_referral_closes(scene):
    referral = scene.refer(ReferralState.ACCEPTED)
    world = scene.world
    referral_victim_for_provider(user=world.provider_officer, referral_id=referral.pk)
    referral_transition(actor=world.provider_officer, referral_id=referral.pk, action=ReferralAction.START)
    referral_victim_for_provider(user=world.provider_officer, referral_id=referral.pk)
    assert referral in provider_inbox(user=world.provider_officer)
    referral_transition(actor=world.provider_officer, referral_id=referral.pk, action=ReferralAction.COMPLETE)

    assert_the_provider_does_not_see(world.provider_officer, referral)
    assert len(identity_reads()) == 2
    assert referral_get(user=world.referrer_officer, referral_id=referral.pk).state == ReferralState.COMPLETED


@pytest.mark.parametrize(
    ("action", "note"),
    [(ActivationAction.CLOSE, "Intervención concluida"), (ActivationAction.DECLINE, "La víctima desistió")],
)
def test_the_provider_loses_the_data_when_the_protocol_ends(scene, action, note):
    """The referral exists to serve the victim within the protocol: once the protocol is closed
    or the victim declines it, the provider must stop reading the person's name and contact.
    (A referral left *pendiente* under a finished protocol would still hand them out: the end of
    the protocol cancels it.)"""
    referral = scene.refer(ReferralState.PENDING)
    activation_transition(
        actor=scene.world.referrer_officer, activation_id=scene.world.activation.pk, action=action, note=note
    )

    # The protocol's end cancelled the referral, which left the provider with it.
    assert referral_get(user=scene.world.referrer_officer, referral_id=referral.pk).state == ReferralState.CANCELLED
    assert_the_provider_does_not_see(scene.world.provider_officer, referral)
    assert identity_reads() == []


# --- everybody who is not the provider -----------------------------------------------------------


@pytest.mark.parametrize("state", ReferralState.values)
def test_an_unrelated_institution_is_told_nothing_exists(scene, state):
    referral = scene.refer(state)
    staff = UserFactory(institution=None, role="", is_staff=True, is_superuser=True)
    inactive_provider_officer = UserFactory(institution=scene.world.provider, is_active=False)

    for user in (scene.world.unrelated_officer, scene.other_provider_officer, staff, inactive_provider_officer):
        assert_not_found(lambda pk, user=user: referral_victim_for_provider(user=user, referral_id=pk), referral.pk)
    assert identity_reads() == []


@pytest.mark.parametrize("state", ReferralState.values)
@pytest.mark.parametrize("who", ["referrer_officer", "referrer_reader"])
def test_the_referring_institution_is_refused_the_providers_view(scene, state, who):
    """It sees its referral in every state, closed ones too, but never through the provider's
    view of the person (403: visible, not allowed)."""
    referral = scene.refer(state)
    user = getattr(scene.world, who)

    assert referral_get(user=user, referral_id=referral.pk).pk == referral.pk
    with pytest.raises(PermissionDenied):
        referral_victim_for_provider(user=user, referral_id=referral.pk)
    assert identity_reads() == []


# --- the bandeja de derivaciones -----------------------------------------------------------------


def _with_deadline(referral: Referral, hours_from_now: float) -> Referral:
    """Move a referral's request and deadline (not its state) so the inbox order can be told."""
    due = timezone.now() + datetime.timedelta(hours=hours_from_now)
    Referral.objects.filter(pk=referral.pk).update(requested_at=due - datetime.timedelta(hours=24), response_due_at=due)
    referral.refresh_from_db()
    return referral


def test_the_inbox_holds_only_the_providers_open_referrals_most_overdue_first(scene):
    world = scene.world
    soon = _with_deadline(world.referral_in(ReferralState.PENDING, ServiceType.HEALTH), 5)
    late_by_a_day = _with_deadline(world.referral_in(ReferralState.PENDING, ServiceType.SHELTER), -24)
    late_by_an_hour = _with_deadline(world.referral_in(ReferralState.PENDING, ServiceType.LEGAL_AID), -1)
    later = _with_deadline(world.referral_in(ReferralState.PENDING, ServiceType.EDUCATION), 50)
    completed_long_ago = _with_deadline(world.referral_in(ReferralState.COMPLETED, ServiceType.WORK), -500)
    cancelled = _with_deadline(world.referral_in(ReferralState.CANCELLED, ServiceType.RETURN), -100)
    rejected = _with_deadline(world.referral_in(ReferralState.REJECTED, ServiceType.OTHER), 10)
    # Another referrer's protocol, to the same provider: in the inbox too.
    elsewhere = InstitutionFactory(short_name="OPD", name="Oficina de protección (deriva)")
    elsewhere_officer = UserFactory(institution=elsewhere)
    foreign_activation = active_activation(institution=elsewhere, officer=elsewhere_officer)
    from_elsewhere = _with_deadline(
        referral_create(
            actor=elsewhere_officer,
            activation_id=foreign_activation.pk,
            service_type=ServiceType.LEGAL_AID,
            provider_id=world.provider.pk,
        ),
        -3,
    )

    inbox = list(provider_inbox(user=world.provider_officer))

    assert inbox == [late_by_a_day, from_elsewhere, late_by_an_hour, soon, later]
    # Closed referrals are no longer the provider's: out of the inbox, however late they were.
    for closed in (completed_long_ago, cancelled, rejected):
        assert closed not in inbox
        assert_the_provider_does_not_see(world.provider_officer, closed)
    assert list(provider_inbox(user=world.provider_reader)) == inbox
    assert scene.other_referral not in inbox
    assert [r.pk for r in provider_inbox(user=scene.other_provider_officer)] == [scene.other_referral.pk]
    assert list(provider_inbox(user=world.unrelated_officer)) == []
    # The referring institution's inbox is its own (it provides nothing here).
    assert list(provider_inbox(user=world.referrer_officer)) == []
    assert list(provider_inbox(user=elsewhere_officer)) == []


def test_an_overdue_referral_comes_before_an_answered_one(scene):
    """'Bandeja de derivaciones (incoming referrals, overdue first)': a referral the provider
    already accepted is not overdue, whatever its response deadline was; one still *pendiente*
    past its deadline is, and comes first."""
    world = scene.world
    accepted_last_week = _with_deadline(world.referral_in(ReferralState.ACCEPTED), -24 * 7)
    in_progress = _with_deadline(world.referral_in(ReferralState.IN_PROGRESS, ServiceType.HEALTH), -24 * 3)
    overdue = _with_deadline(world.referral_in(ReferralState.PENDING, ServiceType.LEGAL_AID), -2)
    not_yet_due = _with_deadline(world.referral_in(ReferralState.PENDING, ServiceType.EDUCATION), 20)

    inbox = list(provider_inbox(user=world.provider_officer))

    assert inbox[0] == overdue
    assert set(inbox) == {accepted_last_week, in_progress, overdue, not_yet_due}


def test_the_inbox_is_empty_for_users_without_an_institution_or_inactive(scene):
    scene.refer(ReferralState.PENDING)
    staff = UserFactory(institution=None, role="", is_staff=True, is_superuser=True)
    inactive = UserFactory(institution=scene.world.provider, is_active=False)

    assert list(provider_inbox(user=staff)) == []
    assert list(provider_inbox(user=inactive)) == []
