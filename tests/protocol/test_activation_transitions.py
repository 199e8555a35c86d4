"""Protocolo de Atención: every move of an activation, legal and illegal, for every role (issue 6).

Activations are built in their starting state through the services (protocol.services), never
by writing the state. The expectations come from protocol.constants.ACTIVATION_TRANSITIONS:

- only a case officer of the activating institution moves an activation;
- a reader or an institutional administrator of it, and an officer of another institution that
  sees the victim (through a share at *ver*, or a case of its own with the same victim), get
  PermissionDenied;
- an officer of an unrelated institution, and a staff user with no institution, get Http404;
- an illegal move is IllegalTransition naming the current state; a refused move changes nothing.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.http import Http404

from cases.models import Case
from cases.sharing import case_share
from institutions.constants import Role
from institutions.models import Institution, User
from protocol.constants import (
    ACTIONS_NEEDING_A_REASON,
    ACTIVATION_TRANSITIONS,
    ALLOWED_STATE_PAIRS,
    OPEN_STATES,
    ActivationAction,
    ActivationState,
    RequestedBy,
)
from protocol.models import ProtocolActivation, ProtocolTransition
from protocol.selectors import activation_get
from protocol.services import (
    IllegalTransition,
    activation_open,
    activation_record_consent,
    activation_transition,
)
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, VictimFactory
from victims.models import Victim
from victims.services import victim_link_to_case

S, A = ActivationState, ActivationAction

REQUESTED_ON = datetime.date(2024, 1, 10)
CONSENT_ON = datetime.date(2024, 1, 12)

# How each starting state is reached through the services, from *solicitada*.
PATHS: dict[str, list[str]] = {
    S.REQUESTED: [],
    S.EVALUATING: [A.EVALUATE],
    S.ACTIVE: [A.EVALUATE, A.ACTIVATE],
    S.CLOSED: [A.EVALUATE, A.ACTIVATE, A.CLOSE],
    S.REJECTED: [A.EVALUATE, A.REJECT],
    S.DECLINED: [A.DECLINE],
}

ALL_STATES = list(S)
ALL_ACTIONS = list(A)

# Who tries the move, and what they get when they may not make it.
ACTORS = {
    "oficial de la institución que activó": None,
    "lector de la institución que activó": PermissionDenied,
    "administrador de la institución que activó": PermissionDenied,
    "oficial de una institución con la causa compartida (ver)": PermissionDenied,
    "oficial de una institución que lleva otra causa de la víctima": PermissionDenied,
    "oficial de una institución ajena": Http404,
    "usuario staff sin institución": Http404,
}
ACTIVATING_OFFICER = "oficial de la institución que activó"


def test_the_tables_here_cover_every_state_and_action():
    assert set(PATHS) == set(S)
    assert set(ACTIVATION_TRANSITIONS) == set(A)
    assert set(ALLOWED_STATE_PAIRS) == {
        (start, end) for starts, end in ACTIVATION_TRANSITIONS.values() for start in starts
    }


# --- building the world -------------------------------------------------------------------------


@dataclass
class World:
    activating: Institution
    officer: User
    case: Case
    victim: Victim


@pytest.fixture
def world(db) -> World:
    """A victim of a case led by the institution that activates the protocol for them."""
    activating = InstitutionFactory()
    officer = UserFactory(institution=activating)
    case = CaseFactory(lead_institution=activating)
    victim = VictimFactory(registering_institution=activating)
    victim_link_to_case(actor=None, victim=victim, case=case)
    return World(activating=activating, officer=officer, case=case, victim=victim)


def make_actor(kind: str, world: World) -> User:
    if kind == "oficial de la institución que activó":
        return world.officer
    if kind == "lector de la institución que activó":
        return UserFactory(institution=world.activating, role=Role.READER)
    if kind == "administrador de la institución que activó":
        return UserFactory(institution=world.activating, role=Role.INSTITUTION_ADMIN)
    if kind == "oficial de una institución con la causa compartida (ver)":
        grantee = InstitutionFactory()
        case_share(actor=world.officer, case_id=world.case.pk, institution=grantee, reason="Coordinación")
        return UserFactory(institution=grantee)
    if kind == "oficial de una institución que lleva otra causa de la víctima":
        other = InstitutionFactory()
        victim_link_to_case(actor=None, victim=world.victim, case=CaseFactory(lead_institution=other))
        return UserFactory(institution=other)
    if kind == "oficial de una institución ajena":
        return UserFactory()
    if kind == "usuario staff sin institución":
        return UserFactory(institution=None, role="", is_staff=True, is_superuser=True)
    raise AssertionError(kind)


def open_activation(officer: User, victim: Victim, **kwargs) -> ProtocolActivation:
    params = {"requested_by": RequestedBy.VICTIM, "requested_on": REQUESTED_ON, **kwargs}
    return activation_open(actor=officer, victim_id=victim.pk, **params)


def activation_in(state: str, officer: User, victim: Victim, *, consent: bool = True) -> ProtocolActivation:
    """An activation brought to ``state`` through the services only."""
    activation = open_activation(officer, victim, note="Solicitud inicial")
    if consent:
        activation = activation_record_consent(actor=officer, activation_id=activation.pk, consent_on=CONSENT_ON)
    for action in PATHS[state]:
        activation = activation_transition(
            actor=officer, activation_id=activation.pk, action=action, note=f"Preparación: {action}"
        )
    assert activation.state == state
    return activation


def snapshot(activation: ProtocolActivation) -> dict:
    row = ProtocolActivation.objects.get(pk=activation.pk)
    return {
        "state": row.state,
        "version": row.version,
        "outcome_reason": row.outcome_reason,
        "consent_on": row.consent_on,
        "state_changed_at": row.state_changed_at,
        "updated_at": row.updated_at,
        "transitions": list(
            ProtocolTransition.objects.filter(activation=activation).values_list("pk", "from_state", "to_state")
        ),
        "activations": ProtocolActivation.objects.count(),
    }


def is_legal(start: str, action: str) -> bool:
    return start in ACTIVATION_TRANSITIONS[action][0]


# --- every (starting state x action) for every actor --------------------------------------------


@pytest.mark.parametrize("actor_kind", list(ACTORS))
@pytest.mark.parametrize(("start", "action"), list(itertools.product(ALL_STATES, ALL_ACTIONS)))
def test_every_move_from_every_state_by_every_role(world, actor_kind, start, action):
    activation = activation_in(start, world.officer, world.victim)
    actor = make_actor(actor_kind, world)
    # The refusal must be the one the role deserves, not an accident of visibility.
    if ACTORS[actor_kind] is Http404:
        with pytest.raises(Http404):
            activation_get(user=actor, activation_id=activation.pk)
    else:
        assert activation_get(user=actor, activation_id=activation.pk).pk == activation.pk
    before = snapshot(activation)
    note = f"Nota de {action}"

    refusal = ACTORS[actor_kind]
    if refusal is None and not is_legal(start, action):
        refusal = IllegalTransition

    if refusal is not None:
        with pytest.raises(refusal) as excinfo:
            activation_transition(actor=actor, activation_id=activation.pk, action=action, note=note)
        if refusal is IllegalTransition:
            assert str(S(start).label).lower() in str(excinfo.value).lower()
            assert excinfo.value.code == "illegal_transition"
        assert snapshot(activation) == before
        return

    moved = activation_transition(actor=actor, activation_id=activation.pk, action=action, note=note)
    target = ACTIVATION_TRANSITIONS[action][1]
    row = ProtocolActivation.objects.get(pk=activation.pk)
    assert moved.state == row.state == target
    assert moved.version == row.version == before["version"] + 1
    assert row.state_changed_at > before["state_changed_at"]
    assert row.consent_on == before["consent_on"]
    if action in ACTIONS_NEEDING_A_REASON:
        assert row.outcome_reason == note
    elif action == ActivationAction.REACTIVATE:
        assert row.outcome_reason == ""  # the reason it was closed for stays in the timeline only
    else:
        assert row.outcome_reason == before["outcome_reason"]
    new = ProtocolTransition.objects.filter(activation=activation).exclude(pk__in=[t[0] for t in before["transitions"]])
    assert new.count() == 1
    transition = new.get()
    assert (transition.action, transition.from_state, transition.to_state) == (action, start, target)
    assert transition.actor_id == actor.pk
    assert transition.institution_id == world.activating.pk
    assert transition.note == note
    assert ProtocolActivation.objects.count() == before["activations"]


def test_an_unknown_action_is_refused_on_action(world):
    activation = activation_in(S.REQUESTED, world.officer, world.victim)
    before = snapshot(activation)
    with pytest.raises(ValidationError) as excinfo:
        activation_transition(actor=world.officer, activation_id=activation.pk, action="archivar", note="x")
    assert "action" in excinfo.value.message_dict
    assert snapshot(activation) == before


def test_the_opening_is_recorded_as_the_first_transition(world):
    activation = open_activation(world.officer, world.victim, note="La víctima lo pidió")
    assert (activation.state, activation.version) == (S.REQUESTED, 1)
    transition = ProtocolTransition.objects.get(activation=activation)
    assert (transition.action, transition.from_state, transition.to_state) == ("", "", S.REQUESTED)
    assert (transition.actor_id, transition.institution_id) == (world.officer.pk, world.activating.pk)
    assert transition.note == "La víctima lo pidió"


def test_a_victim_registered_with_no_case_is_handled_by_the_registering_institution(db):
    registering = InstitutionFactory()
    officer = UserFactory(institution=registering)
    victim = VictimFactory(registering_institution=registering)  # no case at all
    activation = activation_in(S.ACTIVE, officer, victim)
    outsider = UserFactory()
    with pytest.raises(Http404):
        activation_transition(actor=outsider, activation_id=activation.pk, action=A.CLOSE, note="x")
    with pytest.raises(Http404):
        open_activation(outsider, victim)
    closed = activation_transition(actor=officer, activation_id=activation.pk, action=A.CLOSE, note="Terminó")
    assert closed.state == S.CLOSED


# --- reasons and consent ------------------------------------------------------------------------

REASON_CASES = [
    (action, start)
    for action in sorted(ACTIONS_NEEDING_A_REASON)
    for start in sorted(ACTIVATION_TRANSITIONS[action][0])
]


@pytest.mark.parametrize("note", ["", "   \n\t"])
@pytest.mark.parametrize(("action", "start"), REASON_CASES)
def test_a_move_that_must_say_why_is_refused_without_a_reason(world, action, start, note):
    activation = activation_in(start, world.officer, world.victim)
    before = snapshot(activation)
    with pytest.raises(ValidationError) as excinfo:
        activation_transition(actor=world.officer, activation_id=activation.pk, action=action, note=note)
    assert "note" in excinfo.value.message_dict
    assert snapshot(activation) == before


@pytest.mark.parametrize("action", sorted(set(A) - ACTIONS_NEEDING_A_REASON))
def test_moves_that_need_no_reason_take_none(world, action):
    start = sorted(ACTIVATION_TRANSITIONS[action][0])[0]
    activation = activation_in(start, world.officer, world.victim)
    moved = activation_transition(actor=world.officer, activation_id=activation.pk, action=action)
    assert moved.state == ACTIVATION_TRANSITIONS[action][1]
    assert ProtocolTransition.objects.filter(activation=activation, action=action, note="").count() == 1


def test_activating_without_the_victims_consent_is_refused_on_consent_on(world):
    activation = activation_in(S.EVALUATING, world.officer, world.victim, consent=False)
    before = snapshot(activation)
    with pytest.raises(ValidationError) as excinfo:
        activation_transition(actor=world.officer, activation_id=activation.pk, action=A.ACTIVATE, note="Listo")
    assert "consent_on" in excinfo.value.message_dict
    assert snapshot(activation) == before
    # Once consent is recorded the same move goes through.
    activation_record_consent(actor=world.officer, activation_id=activation.pk, consent_on=CONSENT_ON)
    moved = activation_transition(actor=world.officer, activation_id=activation.pk, action=A.ACTIVATE)
    assert moved.state == S.ACTIVE


def test_consent_is_recorded_by_the_activating_officer_only_and_never_before_the_request(world):
    activation = activation_in(S.EVALUATING, world.officer, world.victim, consent=False)
    before = snapshot(activation)
    with pytest.raises(ValidationError) as excinfo:
        activation_record_consent(
            actor=world.officer, activation_id=activation.pk, consent_on=REQUESTED_ON - datetime.timedelta(days=1)
        )
    assert "consent_on" in excinfo.value.message_dict
    with pytest.raises(PermissionDenied):
        activation_record_consent(
            actor=UserFactory(institution=world.activating, role=Role.READER),
            activation_id=activation.pk,
            consent_on=CONSENT_ON,
        )
    with pytest.raises(Http404):
        activation_record_consent(actor=UserFactory(), activation_id=activation.pk, consent_on=CONSENT_ON)
    assert snapshot(activation) == before
    recorded = activation_record_consent(actor=world.officer, activation_id=activation.pk, consent_on=CONSENT_ON)
    assert (recorded.consent_on, recorded.version) == (CONSENT_ON, before["version"] + 1)


@pytest.mark.parametrize("state", [S.CLOSED, S.REJECTED, S.DECLINED])
def test_no_consent_is_recorded_on_a_finished_activation(world, state):
    activation = activation_in(state, world.officer, world.victim, consent=state == S.CLOSED)
    before = snapshot(activation)
    with pytest.raises(IllegalTransition):
        activation_record_consent(actor=world.officer, activation_id=activation.pk, consent_on=CONSENT_ON)
    assert snapshot(activation) == before


# --- one open activation per victim -------------------------------------------------------------


@pytest.mark.parametrize("open_state", list(OPEN_STATES))
def test_a_second_activation_is_refused_while_one_is_open(world, open_state):
    activation_in(open_state, world.officer, world.victim)
    before_count, before_transitions = ProtocolActivation.objects.count(), ProtocolTransition.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        open_activation(world.officer, world.victim)
    assert "victim" in excinfo.value.message_dict
    assert str(S(open_state).label) in excinfo.value.message_dict["victim"][0]
    # Whoever opened the first: another institution following the same victim is refused too.
    other = make_actor("oficial de una institución que lleva otra causa de la víctima", world)
    with pytest.raises(ValidationError) as excinfo:
        open_activation(other, world.victim)
    assert "victim" in excinfo.value.message_dict
    assert (ProtocolActivation.objects.count(), ProtocolTransition.objects.count()) == (
        before_count,
        before_transitions,
    )


@pytest.mark.parametrize("finished_state", [S.CLOSED, S.REJECTED, S.DECLINED])
def test_a_new_activation_may_be_opened_once_the_previous_one_finished(world, finished_state):
    finished = activation_in(finished_state, world.officer, world.victim)
    again = open_activation(world.officer, world.victim)
    assert again.pk != finished.pk
    assert again.state == S.REQUESTED
    assert set(ProtocolActivation.objects.filter(victim=world.victim).values_list("state", flat=True)) == {
        finished_state,
        S.REQUESTED,
    }


@pytest.mark.parametrize("open_state", list(OPEN_STATES))
def test_reactivating_a_closed_activation_is_refused_while_another_is_open(world, open_state):
    closed = activation_in(S.CLOSED, world.officer, world.victim)
    activation_in(open_state, world.officer, world.victim)
    before = snapshot(closed)
    with pytest.raises(IllegalTransition) as excinfo:
        activation_transition(actor=world.officer, activation_id=closed.pk, action=A.REACTIVATE, note="Vuelve")
    assert str(S(open_state).label) in str(excinfo.value)
    assert snapshot(closed) == before


def test_the_closed_activation_is_reactivated_once_the_other_one_finished(world):
    closed = activation_in(S.CLOSED, world.officer, world.victim)
    newer = activation_in(S.EVALUATING, world.officer, world.victim)
    activation_transition(actor=world.officer, activation_id=newer.pk, action=A.REJECT, note="No corresponde")
    again = activation_transition(actor=world.officer, activation_id=closed.pk, action=A.REACTIVATE, note="Vuelve")
    assert again.state == S.ACTIVE
    assert ProtocolActivation.objects.filter(victim=world.victim, state__in=OPEN_STATES).count() == 1


# --- the database itself refuses any change of state outside the table --------------------------

STATE_PAIRS = [(start, end) for start in ALL_STATES for end in ALL_STATES if start != end]


@pytest.mark.parametrize(("start", "end"), STATE_PAIRS)
def test_the_database_refuses_a_direct_change_of_state_outside_the_table(world, start, end):
    activation = activation_in(start, world.officer, world.victim)
    rows = ProtocolActivation.objects.filter(pk=activation.pk)
    if (start, end) in ALLOWED_STATE_PAIRS:
        assert rows.update(state=end, version=F("version") + 1) == 1  # as a transition service does
        assert rows.get().state == end
        return
    with pytest.raises(IntegrityError, match="is not a transition"), transaction.atomic():
        rows.update(state=end)
    assert rows.get().state == start


@pytest.mark.parametrize("state", ALL_STATES)
def test_the_database_lets_a_row_keep_its_state(world, state):
    activation = activation_in(state, world.officer, world.victim)
    rows = ProtocolActivation.objects.filter(pk=activation.pk)
    assert rows.update(state=state, outcome_reason="Corrección de redacción") == 1
    assert rows.get().state == state


def test_the_database_refuses_raw_sql_outside_the_table_too(world):
    activation = activation_in(S.REQUESTED, world.officer, world.victim)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE protocol_protocolactivation SET state = %s WHERE id = %s", [S.CLOSED, activation.pk])
    assert ProtocolActivation.objects.get(pk=activation.pk).state == S.REQUESTED


def test_transitions_are_append_only_in_the_database(world):
    activation = activation_in(S.ACTIVE, world.officer, world.victim)
    transitions = ProtocolTransition.objects.filter(activation=activation)
    count = transitions.count()
    with pytest.raises(DatabaseError), transaction.atomic():
        transitions.update(note="reescrita")
    with pytest.raises(DatabaseError), transaction.atomic():
        transitions.delete()
    assert transitions.count() == count
    assert not transitions.filter(note="reescrita").exists()


# --- who asked, and stale versions --------------------------------------------------------------

THIRD_PARTY_NAME = "Rosalía Quintanilla Ugarte"
THIRD_PARTY_CONTACT = "rosalia.quintanilla@correo.example, +56 9 8765 4321"


def test_a_third_partys_name_and_contact_are_stored_encrypted(world):
    activation = open_activation(
        world.officer,
        world.victim,
        requested_by=RequestedBy.THIRD_PARTY,
        requester_name=THIRD_PARTY_NAME,
        requester_contact=THIRD_PARTY_CONTACT,
    )
    fresh = ProtocolActivation.objects.get(pk=activation.pk)
    assert (fresh.requester_name, fresh.requester_contact) == (THIRD_PARTY_NAME, THIRD_PARTY_CONTACT)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT requester_name, requester_contact FROM protocol_protocolactivation WHERE id = %s",
            [activation.pk],
        )
        raw_name, raw_contact = (bytes(value) for value in cursor.fetchone())
    for raw, plain in ((raw_name, THIRD_PARTY_NAME), (raw_contact, THIRD_PARTY_CONTACT)):
        assert raw
        # The whole value, and every word of it long enough not to turn up in random bytes.
        for piece in [plain, *(word for word in plain.replace(",", " ").split() if len(word) >= 5)]:
            assert piece.encode() not in raw
    assert b"Quintanilla" not in raw_name + raw_contact
    assert b"8765" not in raw_contact


def test_a_third_party_request_must_say_who_asked(world):
    with pytest.raises(ValidationError) as excinfo:
        open_activation(
            world.officer, world.victim, requested_by=RequestedBy.THIRD_PARTY, requester_contact=THIRD_PARTY_CONTACT
        )
    assert "requester_name" in excinfo.value.message_dict
    assert not ProtocolActivation.objects.exists()


@pytest.mark.parametrize("requested_by", [RequestedBy.VICTIM, RequestedBy.INSTITUTION])
def test_a_requester_is_never_kept_for_other_kinds_of_request(world, requested_by):
    activation = open_activation(
        world.officer,
        world.victim,
        requested_by=requested_by,
        requester_name=THIRD_PARTY_NAME,
        requester_contact=THIRD_PARTY_CONTACT,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT requester_name, requester_contact FROM protocol_protocolactivation WHERE id = %s",
            [activation.pk],
        )
        assert cursor.fetchone() == (None, None)
    # The model's validation (what the services run) refuses such a record...
    refused = ProtocolActivation(
        victim=world.victim,
        institution=world.activating,
        requested_by=requested_by,
        requester_name=THIRD_PARTY_NAME,
        requested_on=REQUESTED_ON,
        created_by=world.officer,
    )
    with pytest.raises(ValidationError) as excinfo:
        refused.full_clean(exclude={"victim"}, validate_constraints=False)
    assert "requester_name" in excinfo.value.message_dict
    # ...and so does the database (activation_requester_only_for_third_party).
    activation_transition(actor=world.officer, activation_id=activation.pk, action=A.DECLINE, note="No sigue")
    with pytest.raises(IntegrityError, match="activation_requester_only_for_third_party"), transaction.atomic():
        refused.save()


@pytest.mark.parametrize("stale_by", [-1, 1])
def test_a_stale_expected_version_is_refused_as_a_conflict(world, stale_by):
    activation = activation_in(S.ACTIVE, world.officer, world.victim)
    before = snapshot(activation)
    with pytest.raises(IllegalTransition) as excinfo:
        activation_transition(
            actor=world.officer,
            activation_id=activation.pk,
            action=A.CLOSE,
            note="Cierre",
            expected_version=activation.version + stale_by,
        )
    assert str(S.ACTIVE.label) in str(excinfo.value)
    assert snapshot(activation) == before
    moved = activation_transition(
        actor=world.officer,
        activation_id=activation.pk,
        action=A.CLOSE,
        note="Cierre",
        expected_version=activation.version,
    )
    assert (moved.state, moved.version) == (S.CLOSED, activation.version + 1)


@pytest.mark.parametrize(("start", "end"), ALLOWED_STATE_PAIRS)
def test_a_move_that_does_not_move_the_version_on_is_refused_even_along_the_table(world, start, end):
    # Only a transition service moves the state, and it moves the version on by one: a bare
    # UPDATE, or an old copy of the row saved again, does not.
    activation = activation_in(start, world.officer, world.victim)
    rows = ProtocolActivation.objects.filter(pk=activation.pk)
    with pytest.raises(IntegrityError, match="only through a transition"), transaction.atomic():
        rows.update(state=end)
    assert rows.get().state == start


def test_a_stale_copy_saved_again_cannot_undo_a_transition(world):
    activation = activation_in(S.ACTIVE, world.officer, world.victim)
    stale = ProtocolActivation.objects.get(pk=activation.pk)
    activation_transition(
        actor=world.officer, activation_id=activation.pk, action=ActivationAction.CLOSE, note="Reintegrada"
    )
    with pytest.raises(IntegrityError, match="only through a transition"), transaction.atomic():
        stale.save()
    assert ProtocolActivation.objects.get(pk=activation.pk).state == S.CLOSED
