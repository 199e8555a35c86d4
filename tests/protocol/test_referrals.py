"""Referrals (derivaciones): who refers, from which protocol, with what deadline; every move of a
referral for every role; the database trigger behind the transition table; who sees a referral."""

from __future__ import annotations

import datetime
import itertools
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from cases.access import grant_permissions
from cases.constants import CasePermission
from institutions.constants import Role
from protocol.constants import (
    ALLOWED_REFERRAL_STATE_PAIRS,
    DEFAULT_RESPONSE_HOURS,
    OPEN_REFERRAL_STATES,
    PROVIDER,
    REFERRAL_ACTIONS_NEEDING_A_REASON,
    REFERRAL_TRANSITIONS,
    ActivationAction,
    ActivationState,
    ReferralAction,
    ReferralState,
    ServiceType,
)
from protocol.models import ProtocolActivation, Referral, ReferralTransition, ServiceDeadline
from protocol.referrals import referral_create, referral_get, referral_transition
from protocol.selectors import activation_list
from protocol.services import IllegalTransition, activation_transition
from tests.factories import CaseFactory, InstitutionFactory, UserFactory
from tests.protocol.referral_helpers import World, make_world, open_activation
from victims.models import CaseVictim

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return make_world()


def nothing_written() -> bool:
    return not Referral.objects.exists() and not ReferralTransition.objects.exists()


def snapshot(referral_id) -> tuple[dict, list]:
    row = Referral.objects.filter(pk=referral_id).values().get()
    moves = list(ReferralTransition.objects.filter(referral_id=referral_id).values_list("pk", flat=True))
    return row, moves


# --- referral_create ---------------------------------------------------------------------------


def test_an_officer_of_the_activating_institution_refers_from_an_active_protocol(world):
    before = timezone.now()
    referral = world.refer(ServiceType.SHELTER, note="  Necesita alojamiento esta noche.  ")
    after = timezone.now()

    referral.refresh_from_db()
    assert referral.state == ReferralState.PENDING
    assert referral.activation_id == world.activation.pk
    assert referral.provider_id == world.provider.pk
    assert referral.referred_by_id == world.referrer_officer.pk
    assert referral.version == 1
    assert before <= referral.requested_at <= after
    assert referral.response_due_at - referral.requested_at == datetime.timedelta(hours=24)
    assert referral.accepted_at is None
    assert referral.first_delivered_at is None
    assert referral.closed_at is None
    assert referral.note == "Necesita alojamiento esta noche."

    (move,) = ReferralTransition.objects.filter(referral=referral)
    assert (move.action, move.from_state, move.to_state) == ("", "", ReferralState.PENDING)
    assert move.actor_id == world.referrer_officer.pk
    assert move.institution_id == world.referrer.pk
    assert Referral.objects.count() == 1


@pytest.mark.parametrize("service_type", ServiceType.values)
def test_the_deadline_is_the_seeded_one_for_each_service(world, service_type):
    seeded = ServiceDeadline.objects.get(service_type=service_type).response_hours
    assert seeded == DEFAULT_RESPONSE_HOURS[service_type]

    referral = world.refer(service_type)

    assert referral.response_due_at - referral.requested_at == datetime.timedelta(hours=seeded)


def test_shelter_must_be_answered_within_24_hours():
    assert ServiceDeadline.objects.get(service_type=ServiceType.SHELTER).response_hours == 24


def test_a_changed_deadline_is_used_for_new_referrals_only(world):
    earlier = world.refer(ServiceType.SHELTER)
    ServiceDeadline.objects.filter(service_type=ServiceType.SHELTER).update(response_hours=6)

    later = world.refer(ServiceType.SHELTER, provider=world.unrelated)  # one open per provider and service

    assert later.response_due_at - later.requested_at == datetime.timedelta(hours=6)
    earlier.refresh_from_db()
    assert earlier.response_due_at - earlier.requested_at == datetime.timedelta(hours=24)


def _activation_in(state: str, institution, officer) -> ProtocolActivation:
    activation = open_activation(institution=institution, officer=officer)

    def move(action, note=""):
        return activation_transition(actor=officer, activation_id=activation.pk, action=action, note=note)

    if state == ActivationState.EVALUATING:
        move(ActivationAction.EVALUATE)
    elif state == ActivationState.REJECTED:
        move(ActivationAction.REJECT, "No corresponde.")
    elif state == ActivationState.DECLINED:
        move(ActivationAction.DECLINE, "La víctima no desea continuar.")
    elif state == ActivationState.CLOSED:
        move(ActivationAction.EVALUATE)
        move(ActivationAction.ACTIVATE)
        move(ActivationAction.CLOSE, "Objetivos cumplidos.")
    activation.refresh_from_db()
    assert activation.state == state
    return activation


@pytest.mark.parametrize("state", [s for s in ActivationState.values if s != ActivationState.ACTIVE])
def test_no_referral_from_a_protocol_that_is_not_active(state):
    # A world of its own whose protocol is in ``state`` (the victim has only that activation).
    referrer = InstitutionFactory()
    officer = UserFactory(institution=referrer)
    provider = InstitutionFactory()
    activation = _activation_in(state, referrer, officer)

    with pytest.raises(IllegalTransition, match="protocolo activo"):
        referral_create(
            actor=officer, activation_id=activation.pk, service_type=ServiceType.SHELTER, provider_id=provider.pk
        )
    assert nothing_written()


def test_the_provider_must_be_an_active_institution(world):
    world.provider.is_active = False
    world.provider.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as refused:
        world.refer()
    assert "provider" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        referral_create(
            actor=world.referrer_officer,
            activation_id=world.activation.pk,
            service_type=ServiceType.SHELTER,
            provider_id=10**9,
        )
    assert "provider" in refused.value.message_dict
    assert nothing_written()


def test_an_unknown_service_is_refused(world):
    with pytest.raises(ValidationError) as refused:
        world.refer("astrologia")
    assert "service_type" in refused.value.message_dict
    assert nothing_written()


def _institution_seeing_the_victim(world: World):
    """An institution that sees the victim (a case of the referrer shared with it, view only),
    so it sees the activation too, without having activated it."""
    case = CaseFactory(lead_institution=world.referrer)
    CaseVictim.objects.create(case=case, victim=world.activation.victim)
    onlooker = InstitutionFactory(short_name="MINSAL", name="Ministerio de Salud (ve la causa)")
    grant_permissions(onlooker, case, [CasePermission.VIEW])
    return onlooker


def _refused_actor(kind: str, world: World):
    if kind == "referrer_reader":
        return world.referrer_reader, PermissionDenied
    if kind == "referrer_admin":
        return UserFactory(institution=world.referrer, role=Role.INSTITUTION_ADMIN), PermissionDenied
    if kind == "referrer_inactive_officer":
        return UserFactory(institution=world.referrer, is_active=False), Http404
    if kind == "officer_of_an_institution_seeing_the_victim":
        return UserFactory(institution=_institution_seeing_the_victim(world)), PermissionDenied
    if kind == "unrelated_officer":
        return world.unrelated_officer, Http404
    if kind == "provider_officer":
        return world.provider_officer, Http404
    if kind == "staff":
        return UserFactory(institution=None, role="", is_staff=True, is_superuser=True), Http404
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "referrer_reader",
        "referrer_admin",
        "referrer_inactive_officer",
        "officer_of_an_institution_seeing_the_victim",
        "unrelated_officer",
        "provider_officer",
        "staff",
    ],
)
def test_only_an_officer_of_the_activating_institution_refers(world, kind):
    actor, refusal = _refused_actor(kind, world)

    with pytest.raises(refusal):
        referral_create(
            actor=actor,
            activation_id=world.activation.pk,
            service_type=ServiceType.SHELTER,
            provider_id=world.provider.pk,
        )
    assert nothing_written()


# --- every move, every role ----------------------------------------------------------------------

ROLES = ["provider_officer", "provider_reader", "referrer_officer", "referrer_reader", "unrelated_officer"]
FINAL_STATES = [s for s in ReferralState.values if s not in OPEN_REFERRAL_STATES]


def expected_outcome(state: str, action: str, role: str):
    """What referral_transition must do: the state reached, or the exception it raises."""
    starts, target, who = REFERRAL_TRANSITIONS[action]
    if role == "unrelated_officer":
        return Http404  # it does not even see the referral
    if role.startswith("provider_") and state in FINAL_STATES:
        return Http404  # a closed referral is no longer the provider's (access-model.md)
    entitled = "provider_officer" if who == PROVIDER else "referrer_officer"
    if role != entitled:
        return PermissionDenied
    if state not in starts:
        return IllegalTransition
    return target


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ReferralAction.values)
@pytest.mark.parametrize("state", ReferralState.values)
def test_every_move_for_every_role(world, state, action, role):
    referral = world.referral_in(state)
    actor = getattr(world, role)
    before_row, before_moves = snapshot(referral.pk)
    outcome = expected_outcome(state, action, role)
    note = "Sin cupo disponible." if action in REFERRAL_ACTIONS_NEEDING_A_REASON else "Nota del paso."

    if isinstance(outcome, type):
        with pytest.raises(outcome) as refused:
            referral_transition(actor=actor, referral_id=referral.pk, action=action, note=note)
        assert snapshot(referral.pk) == (before_row, before_moves)
        if outcome is Http404:  # the very answer for a referral that does not exist
            with pytest.raises(Http404) as missing:
                referral_transition(actor=actor, referral_id=uuid.uuid4(), action=action, note=note)
            assert str(refused.value) == str(missing.value)
        return

    t0 = timezone.now()
    moved = referral_transition(actor=actor, referral_id=referral.pk, action=action, note=note)
    t1 = timezone.now()

    row, moves = snapshot(referral.pk)
    assert moved.state == row["state"] == outcome
    assert row["version"] == before_row["version"] + 1
    assert len(moves) == len(before_moves) + 1
    last = ReferralTransition.objects.get(pk=moves[-1])
    assert (last.action, last.from_state, last.to_state) == (action, state, outcome)
    assert last.actor_id == actor.pk
    assert last.institution_id == actor.institution_id
    assert last.note == note

    def stamped(field):
        return row[field] is not None and t0 <= row[field] <= t1

    assert (
        stamped("accepted_at") if action == ReferralAction.ACCEPT else row["accepted_at"] == before_row["accepted_at"]
    )
    if action == ReferralAction.START:
        assert stamped("first_delivered_at")
    else:
        assert row["first_delivered_at"] == before_row["first_delivered_at"]
    assert stamped("closed_at") if outcome in FINAL_STATES else row["closed_at"] is None
    if action in REFERRAL_ACTIONS_NEEDING_A_REASON:
        assert row["outcome_reason"] == note
    else:
        assert row["outcome_reason"] == before_row["outcome_reason"]
    # Nothing else of the referral moved.
    untouched = set(row) - {"state", "version", "updated_at", "accepted_at", "first_delivered_at", "closed_at"}
    untouched -= {"outcome_reason"}
    assert {k: row[k] for k in untouched} == {k: before_row[k] for k in untouched}


def test_a_referral_goes_all_the_way_and_every_step_is_in_its_timeline(world):
    referral = world.referral_in(ReferralState.COMPLETED)

    steps = list(ReferralTransition.objects.filter(referral=referral).values_list("action", "from_state", "to_state"))
    assert steps == [
        ("", "", ReferralState.PENDING),
        (ReferralAction.ACCEPT, ReferralState.PENDING, ReferralState.ACCEPTED),
        (ReferralAction.START, ReferralState.ACCEPTED, ReferralState.IN_PROGRESS),
        (ReferralAction.COMPLETE, ReferralState.IN_PROGRESS, ReferralState.COMPLETED),
    ]
    referral.refresh_from_db()
    assert referral.version == 4
    assert referral.requested_at <= referral.accepted_at <= referral.first_delivered_at <= referral.closed_at


@pytest.mark.parametrize("note", ["", "   \n"])
@pytest.mark.parametrize("action", sorted(REFERRAL_ACTIONS_NEEDING_A_REASON))
def test_rejecting_or_cancelling_needs_a_reason(world, action, note):
    referral = world.referral_in(ReferralState.PENDING)
    before = snapshot(referral.pk)

    with pytest.raises(ValidationError) as refused:
        referral_transition(actor=world.actor_for(action), referral_id=referral.pk, action=action, note=note)

    assert "note" in refused.value.message_dict
    assert snapshot(referral.pk) == before


def test_an_unknown_action_is_refused(world):
    referral = world.referral_in(ReferralState.PENDING)
    before = snapshot(referral.pk)

    with pytest.raises(ValidationError) as refused:
        referral_transition(actor=world.provider_officer, referral_id=referral.pk, action="reabrir")

    assert "action" in refused.value.message_dict
    assert snapshot(referral.pk) == before


def test_the_refusal_of_an_illegal_move_says_why(world):
    # The provider, on a referral it still sees (an open one): accepting one already in progress.
    referral = world.referral_in(ReferralState.IN_PROGRESS)

    with pytest.raises(IllegalTransition) as refused:
        referral_transition(actor=world.provider_officer, referral_id=referral.pk, action=ReferralAction.ACCEPT)

    assert "en curso" in refused.value.message
    assert "aceptar" in refused.value.message

    # The referring institution, which still sees a closed referral: cancelling a completed one.
    referral = world.referral_in(ReferralState.COMPLETED, service_type=ServiceType.HEALTH)

    with pytest.raises(IllegalTransition) as refused:
        referral_transition(
            actor=world.referrer_officer, referral_id=referral.pk, action=ReferralAction.CANCEL, note="Ya no."
        )

    assert "completada" in refused.value.message
    assert "cancelar" in refused.value.message


# --- the database trigger ---------------------------------------------------------------------


def _consistent_fields(target: str, now: datetime.datetime) -> dict:
    """Everything the check constraints ask of a referral in ``target``: only the trigger may refuse."""
    fields = {"state": target, "closed_at": None if target in OPEN_REFERRAL_STATES else now}
    if target in (ReferralState.ACCEPTED, ReferralState.IN_PROGRESS, ReferralState.COMPLETED):
        fields["accepted_at"] = now
    if target in (ReferralState.IN_PROGRESS, ReferralState.COMPLETED):
        fields["first_delivered_at"] = now
    return fields


ALL_PAIRS = [(a, b) for a, b in itertools.permutations(ReferralState.values, 2)]
ILLEGAL_PAIRS = [pair for pair in ALL_PAIRS if pair not in ALLOWED_REFERRAL_STATE_PAIRS]


def test_the_pairs_cover_every_change_of_state():
    assert len(ALL_PAIRS) == 30
    assert len(ALLOWED_REFERRAL_STATE_PAIRS) == 7
    assert len(ILLEGAL_PAIRS) == 23


@pytest.mark.parametrize(("start", "end"), ILLEGAL_PAIRS)
def test_the_database_refuses_a_direct_change_of_state_that_is_not_a_transition(world, start, end):
    referral = world.referral_in(start)

    with pytest.raises(IntegrityError, match="is not a transition"), transaction.atomic():
        Referral.objects.filter(pk=referral.pk).update(**_consistent_fields(end, timezone.now()))

    referral.refresh_from_db()
    assert referral.state == start


@pytest.mark.parametrize(("start", "end"), ALLOWED_REFERRAL_STATE_PAIRS)
def test_the_database_lets_a_transition_pair_through(world, start, end):
    # The other half: the trigger is not refusing everything.
    referral = world.referral_in(start)

    Referral.objects.filter(pk=referral.pk).update(**_consistent_fields(end, timezone.now()), version=F("version") + 1)

    referral.refresh_from_db()
    assert referral.state == end


# --- who sees a referral ------------------------------------------------------------------------


@pytest.mark.parametrize("state", ReferralState.values)
def test_the_provider_and_the_referrer_see_the_referral_and_nobody_else(world, state):
    """The referring institution sees its referral in every state; the provider only while it is
    open (access-model.md: "until the referral closes"), and then as if it did not exist."""
    referral = world.referral_in(state)
    is_open = state in OPEN_REFERRAL_STATES

    for user in (world.referrer_officer, world.referrer_reader):
        assert referral_get(user=user, referral_id=referral.pk).pk == referral.pk
    for user in (world.provider_officer, world.provider_reader):
        if is_open:
            assert referral_get(user=user, referral_id=referral.pk).pk == referral.pk
    # The provider sees the referral without seeing the protocol or the victim.
    assert not activation_list(user=world.provider_officer).filter(pk=world.activation.pk).exists()

    with pytest.raises(Http404) as missing:
        referral_get(user=world.provider_officer, referral_id=uuid.uuid4())
    staff = UserFactory(institution=None, role="", is_staff=True, is_superuser=True)
    inactive = UserFactory(institution=world.provider, is_active=False)
    not_seeing = [world.unrelated_officer, staff, inactive]
    if not is_open:
        not_seeing += [world.provider_officer, world.provider_reader]
    for user in not_seeing:
        with pytest.raises(Http404) as refused:
            referral_get(user=user, referral_id=referral.pk)
        assert str(refused.value) == str(missing.value)


def test_an_institution_seeing_the_victim_does_not_see_its_referrals(world):
    referral = world.referral_in(ReferralState.PENDING)
    onlooker = UserFactory(institution=_institution_seeing_the_victim(world))

    with pytest.raises(Http404):
        referral_get(user=onlooker, referral_id=referral.pk)
    with pytest.raises(Http404):
        referral_transition(actor=onlooker, referral_id=referral.pk, action=ReferralAction.CANCEL, note="No.")
