"""Protocolo de Atención: officers acting on the same activation, or the same victim, at once.

Each worker thread has its own database connection and closes it when done. Two kinds of test:

- racing: both threads start together (threading.Barrier); whichever locks first wins and the
  other must get a conflict, with nothing lost and nothing half-applied;
- held: the first service runs inside a transaction kept open until the second has reached the
  database and is waiting on it; the window between one request's write and its commit, made
  certain instead of left to chance.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from protocol.constants import OPEN_STATES, ActivationAction, ActivationState, RequestedBy
from protocol.models import ProtocolActivation, ProtocolTransition
from protocol.services import IllegalTransition, activation_open, activation_record_consent, activation_transition
from tests.factories import InstitutionFactory, UserFactory, VictimFactory

S, A = ActivationState, ActivationAction

REQUESTED_ON = datetime.date(2024, 1, 10)
CONSENT_ON = datetime.date(2024, 1, 12)
TIMEOUT = 20


def _run_in_thread(action: Callable[[], object], outcomes: dict, name: str, barrier: threading.Barrier | None):
    def target() -> None:
        try:
            if barrier is not None:
                barrier.wait(timeout=TIMEOUT)
            outcomes[name] = action()
        except Exception as exc:  # inspected by the test
            outcomes[name] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread


def race(**actions: Callable[[], object]) -> dict[str, object]:
    """Run the actions in threads released together; their results or exceptions, by name."""
    outcomes: dict[str, object] = {}
    barrier = threading.Barrier(len(actions))
    threads = [_run_in_thread(action, outcomes, name, barrier) for name, action in actions.items()]
    for thread in threads:
        thread.join(timeout=TIMEOUT)
        assert not thread.is_alive(), f"{thread.name} did not finish"
    return outcomes


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def held_then(first: Callable[[], object], second: Callable[[], object]) -> dict[str, object]:
    """``first`` runs and stays uncommitted until ``second`` waits on the database (or ends)."""
    outcomes: dict[str, object] = {}
    done, release = threading.Event(), threading.Event()

    def hold() -> object:
        with transaction.atomic():
            result = first()
            done.set()
            assert release.wait(timeout=TIMEOUT)
        return result

    def hold_and_signal() -> object:
        try:
            return hold()
        finally:
            done.set()

    holder = _run_in_thread(hold_and_signal, outcomes, "first", None)
    try:
        assert done.wait(timeout=TIMEOUT)
        waiter = _run_in_thread(second, outcomes, "second", None)
        deadline = time.monotonic() + TIMEOUT
        while waiter.is_alive() and _waiting_on_locks() < 1:
            assert time.monotonic() < deadline, "the second service never reached the database"
            time.sleep(0.02)
    finally:
        release.set()
    holder.join(timeout=TIMEOUT)
    waiter.join(timeout=TIMEOUT)
    assert not holder.is_alive() and not waiter.is_alive()
    return outcomes


def active_activation(officer, victim) -> ProtocolActivation:
    activation = activation_open(
        actor=officer, victim_id=victim.pk, requested_by=RequestedBy.VICTIM, requested_on=REQUESTED_ON
    )
    activation_record_consent(actor=officer, activation_id=activation.pk, consent_on=CONSENT_ON)
    activation_transition(actor=officer, activation_id=activation.pk, action=A.EVALUATE)
    return activation_transition(actor=officer, activation_id=activation.pk, action=A.ACTIVATE)


def closed_activation(officer, victim) -> ProtocolActivation:
    activation = active_activation(officer, victim)
    return activation_transition(actor=officer, activation_id=activation.pk, action=A.CLOSE, note="Terminó")


def open_for(officer, victim) -> Callable[[], ProtocolActivation]:
    return lambda: activation_open(
        actor=officer, victim_id=victim.pk, requested_by=RequestedBy.VICTIM, requested_on=REQUESTED_ON
    )


def move(officer, activation, action, note, expected_version=None) -> Callable[[], ProtocolActivation]:
    return lambda: activation_transition(
        actor=officer, activation_id=activation.pk, action=action, note=note, expected_version=expected_version
    )


# --- two moves of the same activation -----------------------------------------------------------

ROUNDS = [
    (A.CLOSE, A.DECLINE, False),
    (A.DECLINE, A.CLOSE, False),
    (A.CLOSE, A.CLOSE, True),  # both saw the same version on their screen
    (A.CLOSE, A.DECLINE, True),
]


@pytest.mark.django_db(transaction=True)
def test_two_officers_moving_the_same_activation_at_once_one_wins_and_nothing_is_lost():
    institution = InstitutionFactory()
    first_officer, second_officer = UserFactory(institution=institution), UserFactory(institution=institution)
    for round_number, (first_action, second_action, with_version) in enumerate(ROUNDS * 2):
        activation = active_activation(first_officer, VictimFactory(registering_institution=institution))
        before = ProtocolActivation.objects.get(pk=activation.pk)
        transitions_before = set(ProtocolTransition.objects.values_list("pk", flat=True))
        version = before.version if with_version else None
        notes = {"first": f"Ronda {round_number}: primero", "second": f"Ronda {round_number}: segundo"}
        outcomes = race(
            first=move(first_officer, activation, first_action, notes["first"], version),
            second=move(second_officer, activation, second_action, notes["second"], version),
        )

        winners = [name for name, outcome in outcomes.items() if isinstance(outcome, ProtocolActivation)]
        losers = [name for name, outcome in outcomes.items() if isinstance(outcome, IllegalTransition)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        (winner,), (loser,) = winners, losers
        winner_action = {"first": first_action, "second": second_action}[winner]
        winner_officer = {"first": first_officer, "second": second_officer}[winner]
        target = S.CLOSED if winner_action == A.CLOSE else S.DECLINED

        after = ProtocolActivation.objects.get(pk=activation.pk)
        assert after.state == target
        assert after.version == before.version + 1
        assert after.outcome_reason == notes[winner]
        assert after.consent_on == before.consent_on
        assert outcomes[winner].state == target
        new = ProtocolTransition.objects.exclude(pk__in=transitions_before)
        assert new.count() == 1, list(new.values())
        transition = new.get()
        assert (transition.activation_id, transition.action, transition.from_state, transition.to_state) == (
            activation.pk,
            winner_action,
            S.ACTIVE,
            target,
        )
        assert (transition.actor_id, transition.note) == (winner_officer.pk, notes[winner])
        # The loser is told the state the winner left.
        assert str(target.label).lower() in str(outcomes[loser]).lower()
        assert ProtocolActivation.objects.filter(victim_id=activation.victim_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_officers_opening_the_protocol_for_the_same_victim_at_once():
    institution = InstitutionFactory()
    first_officer, second_officer = UserFactory(institution=institution), UserFactory(institution=institution)
    for _round in range(4):
        victim = VictimFactory(registering_institution=institution)
        outcomes = race(first=open_for(first_officer, victim), second=open_for(second_officer, victim))
        opened = [outcome for outcome in outcomes.values() if isinstance(outcome, ProtocolActivation)]
        refused = [outcome for outcome in outcomes.values() if isinstance(outcome, ValidationError)]
        assert len(opened) == 1 and len(refused) == 1, outcomes
        assert "victim" in refused[0].message_dict
        assert list(ProtocolActivation.objects.filter(victim=victim).values_list("pk", flat=True)) == [opened[0].pk]
        assert ProtocolTransition.objects.filter(activation__victim=victim).count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_opening_waits_for_another_opening_still_uncommitted_then_is_refused():
    institution = InstitutionFactory()
    victim = VictimFactory(registering_institution=institution)
    first_officer, second_officer = UserFactory(institution=institution), UserFactory(institution=institution)
    outcomes = held_then(open_for(first_officer, victim), open_for(second_officer, victim))
    assert isinstance(outcomes["first"], ProtocolActivation), outcomes
    assert isinstance(outcomes["second"], ValidationError), outcomes
    assert "victim" in outcomes["second"].message_dict
    assert ProtocolActivation.objects.filter(victim=victim).count() == 1


# --- reactivating a closed activation while the victim gets another open one --------------------
# A reactivation checks that the victim has no other open activation; these make sure that check
# cannot be overtaken by an opening, or another reactivation, not yet committed. The loser must be
# told why (IllegalTransition or ValidationError), never fail on the database's unique index.


def _assert_one_open_and_a_clean_refusal(outcomes, victim):
    assert isinstance(outcomes["first"], ProtocolActivation), outcomes
    assert isinstance(outcomes["second"], (IllegalTransition, ValidationError)), outcomes
    assert ProtocolActivation.objects.filter(victim=victim, state__in=OPEN_STATES).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_reactivation_racing_an_uncommitted_opening_is_refused_cleanly():
    institution = InstitutionFactory()
    victim = VictimFactory(registering_institution=institution)
    officer, other_officer = UserFactory(institution=institution), UserFactory(institution=institution)
    closed = closed_activation(officer, victim)
    outcomes = held_then(open_for(other_officer, victim), move(officer, closed, A.REACTIVATE, "Vuelve"))
    _assert_one_open_and_a_clean_refusal(outcomes, victim)
    assert ProtocolActivation.objects.get(pk=closed.pk).state == S.CLOSED


@pytest.mark.django_db(transaction=True)
def test_an_opening_racing_an_uncommitted_reactivation_is_refused_cleanly():
    institution = InstitutionFactory()
    victim = VictimFactory(registering_institution=institution)
    officer, other_officer = UserFactory(institution=institution), UserFactory(institution=institution)
    closed = closed_activation(officer, victim)
    outcomes = held_then(move(officer, closed, A.REACTIVATE, "Vuelve"), open_for(other_officer, victim))
    _assert_one_open_and_a_clean_refusal(outcomes, victim)
    assert ProtocolActivation.objects.filter(victim=victim).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_reactivations_of_the_same_victim_cannot_both_go_through():
    institution = InstitutionFactory()
    victim = VictimFactory(registering_institution=institution)
    officer, other_officer = UserFactory(institution=institution), UserFactory(institution=institution)
    older = closed_activation(officer, victim)
    newer = closed_activation(officer, victim)
    outcomes = held_then(
        move(officer, older, A.REACTIVATE, "Vuelve (1)"), move(other_officer, newer, A.REACTIVATE, "Vuelve (2)")
    )
    _assert_one_open_and_a_clean_refusal(outcomes, victim)
    assert ProtocolActivation.objects.get(pk=newer.pk).state == S.CLOSED
