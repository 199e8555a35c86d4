import smtplib

from celery import shared_task
from django.conf import settings

from protocol.notifications import notification_mail_send, unmailed_notifications_requeue
from protocol.referrals import overdue_referrals_notify
from protocol.residence import residence_expiry_remind


@shared_task(name="protocol.notify_overdue_referrals")
def notify_overdue_referrals() -> int:
    """Beat: referrals past their response deadline, told to the provider once each."""
    return overdue_referrals_notify()


@shared_task(name="protocol.remind_expiring_residence_permits")
def remind_expiring_residence_permits() -> int:
    """Beat, daily: granted permits ending within 60 days, announced once per end date."""
    return residence_expiry_remind()


@shared_task(
    name="protocol.send_notification_mail",
    acks_late=True,
    # SMTPException is an OSError; both named for the reader. Refused connections, timeouts and
    # a server that hangs up are all OSErrors.
    autoretry_for=(smtplib.SMTPException, OSError),
    # Waits drawn at random up to 30 s, 60 s, 120 s... capped at an hour: about 4 hours of tries
    # at most, enough for a mail server's maintenance window.
    retry_backoff=settings.NOTIFICATION_MAIL_RETRY_BACKOFF,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=10,
)
def send_notification_mail(notification_ids: list[int]) -> int:
    """E-mail these notifications (queued by protocol.notifications.notify after commit). Safe
    to retry and to run twice: a row already mailed is skipped. Returns how many left."""
    return notification_mail_send(notification_ids=notification_ids)


@shared_task(name="protocol.requeue_unmailed_notifications")
def requeue_unmailed_notifications() -> int:
    """Beat: notices whose e-mail never left (broker down at commit, a task that gave up)."""
    return unmailed_notifications_requeue()
