"""Notification e-mails: queued after commit as a Celery task that retries a failing mail server
with backoff, sends each notice once however often it runs, and never names a victim.

The mail server is Django's locmem outbox; a failing one is tests.protocol.conftest.
FlakySMTPBackend. The worker tests run a real Celery worker against Redis."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from institutions.constants import InstitutionKind
from protocol.constants import ResidenceAction
from protocol.models import Notification
from protocol.notifications import notify
from protocol.referrals import overdue_referrals_notify
from protocol.residence import residence_derive, residence_expiry_remind, residence_transition
from protocol.tasks import send_notification_mail
from tests.factories import InstitutionFactory, UserFactory, VictimFactory
from tests.protocol.conftest import TASK_TIMEOUT, wait_until
from tests.protocol.referral_helpers import make_world
from tests.protocol.test_overdue_referrals import make_overdue

SUBJECT = "MITP: aviso de prueba"
MESSAGE = "Derivación atrasada: Casa de acogida solicitada el 01-06-2024 10:00."


def people(count: int = 2):
    institution = InstitutionFactory(short_name="AVISOS", name="Institución que recibe avisos")
    return [UserFactory(institution=institution, email=f"persona{n}@avisos.cl") for n in range(count)]


def notify_and_commit(recipients) -> list[Notification]:
    """notify() in a transaction of its own, as the beat jobs call it: the task leaves on commit."""
    with transaction.atomic():
        notify(recipients, subject=SUBJECT, message=MESSAGE)
    return list(Notification.objects.filter(recipient__in=recipients).order_by("id"))


def mailed_once_each(recipients) -> bool:
    return sorted(tuple(message.to) for message in mail.outbox) == sorted((user.email,) for user in recipients)


# --- queued on commit (tasks run at once in the test settings) ------------------------------------


@pytest.mark.django_db
def test_the_e_mail_leaves_only_after_commit_and_the_notice_records_when(django_capture_on_commit_callbacks):
    recipients = people()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify(recipients, subject=SUBJECT, message=MESSAGE)
    assert mail.outbox == []
    assert not Notification.objects.exclude(mailed_at=None).exists()

    for callback in callbacks:
        callback()

    assert mailed_once_each(recipients)
    assert all(message.subject == SUBJECT and message.body == MESSAGE for message in mail.outbox)
    notices = Notification.objects.filter(recipient__in=recipients)
    assert notices.count() == 2
    assert all(notice.subject == SUBJECT and notice.mailed_at is not None for notice in notices)


@pytest.mark.django_db
def test_a_recipient_without_an_address_is_told_in_the_app_and_nothing_is_queued_for_them(
    django_capture_on_commit_callbacks,
):
    (without,) = people(1)
    without.email = ""
    without.save()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify([without], subject=SUBJECT, message=MESSAGE)

    assert callbacks == []
    assert Notification.objects.get(recipient=without).mailed_at is None
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_notice_already_mailed_is_not_mailed_again_by_a_second_task(django_capture_on_commit_callbacks):
    recipients = people()
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipients, subject=SUBJECT, message=MESSAGE)
    ids = list(Notification.objects.values_list("id", flat=True))

    assert send_notification_mail.delay(ids).get() == 0

    assert mailed_once_each(recipients)


@pytest.mark.django_db
def test_a_recipient_deactivated_before_the_mail_leaves_gets_no_mail(django_capture_on_commit_callbacks):
    gone, kept = people()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify([gone, kept], subject=SUBJECT, message=MESSAGE)
    gone.is_active = False
    gone.save()

    for callback in callbacks:
        callback()

    assert [message.to for message in mail.outbox] == [[kept.email]]
    assert Notification.objects.get(recipient=gone).mailed_at is None


@pytest.mark.django_db
def test_retries_are_bounded_a_server_that_never_answers_leaves_the_notice_unmailed(
    flaky_smtp, django_capture_on_commit_callbacks
):
    # Eager here: a retry runs at once instead of after its backoff.
    flaky_smtp.failures = 1000
    (person,) = people(1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify([person], subject=SUBJECT, message=MESSAGE)
    (notice,) = Notification.objects.filter(recipient=person)

    result = send_notification_mail.apply(args=[[notice.pk]])

    assert result.failed()
    assert flaky_smtp.attempts == send_notification_mail.max_retries + 1
    assert mail.outbox == []
    notice.refresh_from_db()
    assert notice.mailed_at is None
    assert len(callbacks) == 1


# --- no victim identity in any e-mail -------------------------------------------------------------


@pytest.mark.django_db
def test_an_overdue_referral_e_mail_does_not_name_the_victim(django_capture_on_commit_callbacks):
    world = make_world()
    victim = world.activation.victim
    make_overdue(world.refer())

    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify() == 1

    assert mail.outbox
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        for identity in (victim.given_names, victim.surnames, victim.document_number):
            assert identity not in text


@pytest.mark.django_db
def test_a_permit_expiry_e_mail_names_the_victim_only_by_code(django_capture_on_commit_callbacks):
    registrar = InstitutionFactory(short_name="ONG-R", name="ONG que registra")
    officer = UserFactory(institution=registrar, email="oficial@ong.cl")
    sermig = InstitutionFactory(short_name="SERMIG-T", name="Sermig", kind=InstitutionKind.MIGRATION)
    sermig_officer = UserFactory(institution=sermig, is_sermig_officer=True, email="oficial@sermig.cl")
    victim = VictimFactory(registering_institution=registrar, given_names="Rosa", surnames="Quispe Mamani")
    application = residence_derive(actor=officer, victim_id=victim.pk)
    for action in (ResidenceAction.RECEIVE, ResidenceAction.PROCESS):
        residence_transition(actor=sermig_officer, application_id=application.pk, action=action)
    today = timezone.localdate()
    residence_transition(
        actor=sermig_officer,
        application_id=application.pk,
        action=ResidenceAction.GRANT,
        permit_number="RTH-2026-0001234",
        valid_from=today - datetime.timedelta(days=300),
        valid_until=today + datetime.timedelta(days=30),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert residence_expiry_remind() == 1

    assert sorted(message.to[0] for message in mail.outbox) == ["oficial@ong.cl", "oficial@sermig.cl"]
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        assert victim.code in text
        for identity in ("Rosa", "Quispe", victim.document_number, "RTH-2026-0001234"):
            assert identity not in text


# --- a real worker --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_each_notice_once(celery_worker):
    recipients = people(3)
    mail.outbox.clear()

    notify_and_commit(recipients)

    wait_until(lambda: not Notification.objects.filter(mailed_at=None).exists())
    assert mailed_once_each(recipients)
    assert all(message.subject == SUBJECT and message.body == MESSAGE for message in mail.outbox)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_a_failing_mail_server_and_then_sends_once(celery_worker, flaky_smtp):
    flaky_smtp.failures = 2  # the server hangs up twice, then takes the mail
    recipients = people(2)
    mail.outbox.clear()

    notices = notify_and_commit(recipients)

    wait_until(lambda: not Notification.objects.filter(mailed_at=None).exists())
    assert flaky_smtp.attempts == 2 + len(recipients)
    assert mailed_once_each(recipients)
    for notice in notices:
        notice.refresh_from_db()
        assert notice.mailed_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_running_the_same_mail_task_again_sends_nothing_twice(celery_worker):
    recipients = people(2)
    mail.outbox.clear()
    notices = notify_and_commit(recipients)
    wait_until(lambda: not Notification.objects.filter(mailed_at=None).exists())
    ids = [notice.pk for notice in notices]

    # The same task delivered again, three times, after it ran.
    again = [send_notification_mail.delay(ids) for _ in range(3)]

    assert [result.get(timeout=TASK_TIMEOUT) for result in again] == [0, 0, 0]
    assert mailed_once_each(recipients)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_once_when_the_task_is_delivered_twice_before_it_ran(celery_worker):
    recipients = people(2)
    mail.outbox.clear()
    Notification.objects.bulk_create(
        [Notification(recipient=user, subject=SUBJECT, message=MESSAGE) for user in recipients]
    )
    ids = list(Notification.objects.filter(recipient__in=recipients).values_list("id", flat=True))

    # Two deliveries of one task, as a broker redelivering an unacknowledged message would.
    results = [send_notification_mail.delay(ids), send_notification_mail.delay(ids)]

    assert sorted(result.get(timeout=TASK_TIMEOUT) for result in results) == [0, 2]
    assert mailed_once_each(recipients)


# --- the sweep: notices whose e-mail never left ---------------------------------------------------


@pytest.mark.django_db
def test_a_notice_whose_task_never_left_is_mailed_by_the_sweep_once(django_capture_on_commit_callbacks):
    from protocol.notifications import UNMAILED_SWEEP_AFTER, UNMAILED_SWEEP_FOR, unmailed_notifications_requeue

    recipients = people(3)
    # The broker was down at commit: the notices exist, no task left.
    with django_capture_on_commit_callbacks(execute=False):
        notify(recipients, subject=SUBJECT, message=MESSAGE)
    stale, fresh, old = Notification.objects.filter(recipient__in=recipients).order_by("id")
    now = timezone.now()
    Notification.objects.filter(pk=stale.pk).update(created_at=now - UNMAILED_SWEEP_AFTER - datetime.timedelta(1))
    Notification.objects.filter(pk=old.pk).update(created_at=now - UNMAILED_SWEEP_FOR - datetime.timedelta(1))

    with django_capture_on_commit_callbacks(execute=True):
        assert unmailed_notifications_requeue(now=now) == 1
    assert [message.to for message in mail.outbox] == [[stale.recipient.email]]
    # Run again: nothing left to send for it; the fresh one waits its turn, the old one is let go.
    assert unmailed_notifications_requeue(now=now) == 0
    assert len(mail.outbox) == 1
    assert Notification.objects.get(pk=fresh.pk).mailed_at is None
