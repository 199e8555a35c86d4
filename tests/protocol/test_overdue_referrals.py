"""Overdue referrals: the provider's case officers are told once per deadline, in the app and by
e-mail, however often the beat job runs, at the service level and through a real Celery worker
consuming from Redis."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from institutions.constants import Role
from protocol.constants import ReferralState, ServiceType
from protocol.models import Notification, Referral, ReferralOverdueAlert
from protocol.referrals import overdue_referrals_notify, referral_create
from protocol.tasks import notify_overdue_referrals
from tests.factories import InstitutionFactory, UserFactory
from tests.protocol.conftest import TASK_TIMEOUT, wait_until
from tests.protocol.referral_helpers import World, ensure_service_deadlines, make_world


def make_overdue(referral: Referral, *, late: datetime.timedelta = datetime.timedelta(hours=1)) -> Referral:
    """Move the referral's deadline into the past (the trigger guards only its state)."""
    due = timezone.now() - late
    Referral.objects.filter(pk=referral.pk).update(requested_at=due - datetime.timedelta(hours=24), response_due_at=due)
    referral.refresh_from_db()
    return referral


def people_around_the_provider(world: World):
    """The provider's second case officer (told), and everyone who must not be told."""
    told = [world.provider_officer, UserFactory(institution=world.provider, email="segunda@presta.cl")]
    UserFactory(institution=world.provider, is_active=False, email="inactiva@presta.cl")
    UserFactory(institution=world.provider, is_api_client=True, email="api@presta.cl")
    UserFactory(institution=world.provider, role=Role.INSTITUTION_ADMIN, email="admin@presta.cl")
    # world.provider_reader, world.referrer_* and world.unrelated_officer are not told either.
    return told


def assert_told_once(referral: Referral, officers) -> None:
    alert = ReferralOverdueAlert.objects.get(referral=referral)
    assert alert.due_at == referral.response_due_at
    notices = Notification.objects.filter(referral=referral)
    assert sorted(notices.values_list("recipient_id", flat=True)) == sorted(user.pk for user in officers)
    assert all(notice.alert_id == alert.pk for notice in notices)
    assert sorted(tuple(message.to) for message in mail.outbox) == sorted((user.email,) for user in officers)


@pytest.fixture
def world(db) -> World:
    return make_world()


# --- the service ----------------------------------------------------------------------------------


def test_an_overdue_referral_is_told_once_to_each_active_case_officer_of_the_provider(
    world, django_capture_on_commit_callbacks
):
    officers = people_around_the_provider(world)
    referral = make_overdue(world.refer(ServiceType.SHELTER))

    with django_capture_on_commit_callbacks(execute=True):
        told = overdue_referrals_notify()

    assert told == 1
    assert_told_once(referral, officers)
    assert Notification.objects.count() == len(officers)
    notice = Notification.objects.filter(recipient=world.provider_officer).get()
    assert "Casa de acogida" in notice.message
    assert notice.read_at is None
    assert len(mail.outbox) == len(officers)
    assert all(message.subject == "MITP: derivación atrasada" for message in mail.outbox)
    assert all(message.body == notice.message for message in mail.outbox)


def test_the_second_run_tells_nobody(world, django_capture_on_commit_callbacks):
    officers = people_around_the_provider(world)
    referral = make_overdue(world.refer())
    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 1

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert overdue_referrals_notify() == 0

    assert callbacks == []
    assert_told_once(referral, officers)
    assert ReferralOverdueAlert.objects.count() == 1
    assert Notification.objects.count() == len(officers)
    assert len(mail.outbox) == len(officers)


def test_no_e_mail_leaves_before_the_notice_is_committed(world, django_capture_on_commit_callbacks):
    people_around_the_provider(world)
    make_overdue(world.refer())

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        overdue_referrals_notify()

    assert len(callbacks) == 1
    assert mail.outbox == []


def test_a_referral_not_yet_due_is_not_told(world, django_capture_on_commit_callbacks):
    people_around_the_provider(world)
    referral = world.refer()

    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 0
        # One second before the deadline is still in time.
        assert overdue_referrals_notify(now=referral.response_due_at - datetime.timedelta(seconds=1)) == 0

    assert not ReferralOverdueAlert.objects.exists()
    assert not Notification.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("state", [s for s in ReferralState.values if s != ReferralState.PENDING])
def test_a_referral_already_answered_is_not_told(world, django_capture_on_commit_callbacks, state):
    people_around_the_provider(world)
    make_overdue(world.referral_in(state))

    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 0

    assert not ReferralOverdueAlert.objects.exists()
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_a_new_deadline_is_a_new_delay_told_once_more(world, django_capture_on_commit_callbacks):
    officers = people_around_the_provider(world)
    referral = make_overdue(world.refer(), late=datetime.timedelta(hours=5))
    first_due = referral.response_due_at
    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 1

    # The deadline moved (say, extended) and passed again: a new delay.
    new_due = timezone.now() - datetime.timedelta(minutes=10)
    Referral.objects.filter(pk=referral.pk).update(response_due_at=new_due)
    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 0

    assert sorted(ReferralOverdueAlert.objects.filter(referral=referral).values_list("due_at", flat=True)) == [
        first_due,
        new_due,
    ]
    for officer in officers:
        assert Notification.objects.filter(recipient=officer).count() == 2
    assert len(mail.outbox) == 2 * len(officers)


def test_a_deadline_moved_into_the_future_is_not_told_until_it_passes(world, django_capture_on_commit_callbacks):
    officers = people_around_the_provider(world)
    referral = make_overdue(world.refer())
    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 1

    later = timezone.now() + datetime.timedelta(hours=12)
    Referral.objects.filter(pk=referral.pk).update(response_due_at=later)
    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 0
        assert overdue_referrals_notify(now=later + datetime.timedelta(seconds=1)) == 1

    assert ReferralOverdueAlert.objects.filter(referral=referral).count() == 2
    assert len(mail.outbox) == 2 * len(officers)


def test_each_provider_hears_only_of_its_own_referrals(world, django_capture_on_commit_callbacks):
    officers = people_around_the_provider(world)
    other_provider = InstitutionFactory(short_name="MINSAL-P", name="Servicio de salud (presta)")
    other_officer = UserFactory(institution=other_provider, email="oficial@salud.cl")
    ours = make_overdue(world.refer(ServiceType.SHELTER))
    theirs = make_overdue(
        referral_create(
            actor=world.referrer_officer,
            activation_id=world.activation.pk,
            service_type=ServiceType.HEALTH,
            provider_id=other_provider.pk,
        )
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 2

    assert sorted(Notification.objects.filter(referral=ours).values_list("recipient_id", flat=True)) == sorted(
        u.pk for u in officers
    )
    assert list(Notification.objects.filter(referral=theirs).values_list("recipient_id", flat=True)) == [
        other_officer.pk
    ]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([u.email for u in officers] + [other_officer.email])
    nobody_else = [world.provider_reader, world.referrer_officer, world.referrer_reader, world.unrelated_officer]
    assert not Notification.objects.filter(recipient__in=nobody_else).exists()


def test_an_officer_without_an_e_mail_address_is_still_told_in_the_app(world, django_capture_on_commit_callbacks):
    without = UserFactory(institution=world.provider, email="")
    referral = make_overdue(world.refer())

    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 1

    assert Notification.objects.filter(referral=referral, recipient=without).exists()
    assert [m.to for m in mail.outbox] == [[world.provider_officer.email]]


# --- concurrent runs, and a real worker ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_moment_tell_the_delay_once():
    ensure_service_deadlines()
    world = make_world()
    officers = people_around_the_provider(world)
    referrals = [make_overdue(world.refer(service)) for service in list(ServiceType)[:5]]
    mail.outbox.clear()

    start = threading.Barrier(2, timeout=10)
    results, errors = [], []

    def run():
        try:
            start.wait()
            results.append(overdue_referrals_notify())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    assert sum(results) == len(referrals)
    assert ReferralOverdueAlert.objects.count() == len(referrals)
    assert Notification.objects.count() == len(referrals) * len(officers)
    for officer in officers:
        assert Notification.objects.filter(recipient=officer).count() == len(referrals)
        assert sum(message.to == [officer.email] for message in mail.outbox) == len(referrals)
    assert len(mail.outbox) == len(referrals) * len(officers)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_tells_an_overdue_referral_once_however_often_the_job_runs(celery_worker):
    # transaction=True: the data below is committed, so the worker's thread, on a connection of
    # its own to the same test database, reads it.
    ensure_service_deadlines()
    world = make_world()
    officers = people_around_the_provider(world)
    shelter = make_overdue(world.refer(ServiceType.SHELTER))
    health = world.refer(ServiceType.HEALTH)  # not yet due
    mail.outbox.clear()

    # Twice in a row: told, then nothing new. The e-mails are a task of their own, queued by
    # the first run's commit: the worker takes it next.
    assert notify_overdue_referrals.delay().get(timeout=TASK_TIMEOUT) == 1
    assert notify_overdue_referrals.delay().get(timeout=TASK_TIMEOUT) == 0
    wait_until(lambda: len(mail.outbox) >= len(officers))
    assert_told_once(shelter, officers)

    # A second referral falls due; the job is sent twice at once.
    make_overdue(health)
    sent = [notify_overdue_referrals.delay(), notify_overdue_referrals.delay()]
    assert sorted(result.get(timeout=TASK_TIMEOUT) for result in sent) == [0, 1]
    wait_until(lambda: not Notification.objects.filter(mailed_at=None).exists())

    assert ReferralOverdueAlert.objects.count() == 2
    for referral in (shelter, health):
        assert ReferralOverdueAlert.objects.filter(referral=referral, due_at=referral.response_due_at).count() == 1
        for officer in officers:
            assert Notification.objects.filter(referral=referral, recipient=officer).count() == 1
    assert Notification.objects.count() == 2 * len(officers)
    for officer in officers:
        assert sum(message.to == [officer.email] for message in mail.outbox) == 2
    assert len(mail.outbox) == 2 * len(officers)
