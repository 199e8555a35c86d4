"""Telling people: an in-app notification each, and an e-mail each, sent by a retrying Celery task
once the transaction that decided to tell them commits.

What is told (subject and message) leaves the system by e-mail: it names a victim only by the
pseudonymous code (V-2024-000123), never by name, document or contact data.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from institutions.models import User
from protocol.models import Notification

logger = logging.getLogger(__name__)


def notify(recipients: Iterable[User], *, subject: str, message: str, **about) -> None:
    """``about``: what the notice is about (Notification's referral, alert, residence_reminder).

    The in-app notices are saved in the caller's transaction. The e-mails (to the recipients
    with an address) are queued only after commit, as one protocol.send_notification_mail task:
    a rolled-back run e-mails nobody, and a mail server that fails is tried again with backoff.
    A broker that cannot take the task is logged and stops nothing else; the notices stay, with
    ``mailed_at`` empty.
    """
    recipients = list(recipients)
    notices = Notification.objects.bulk_create(
        [Notification(recipient=user, subject=subject, message=message, **about) for user in recipients]
    )
    to_mail = [notice.pk for notice, user in zip(notices, recipients, strict=True) if user.email]
    if to_mail:
        transaction.on_commit(lambda: _queue_mail(to_mail), robust=True)


def _queue_mail(notification_ids: list[int]) -> None:
    # Imported here: protocol.tasks imports the services that call notify().
    from protocol.tasks import send_notification_mail

    send_notification_mail.delay(notification_ids)


def notification_mail_send(*, notification_ids: Sequence[int]) -> int:
    """E-mail each notification not yet mailed, to its recipient if still active and with an
    address; returns how many left. Idempotent: each row is locked, sent, and marked
    ``mailed_at`` in a transaction of its own, so a retry (or a second delivery of the same
    task) skips what already left, and a row another worker is sending now is waited for, then skipped.

    A mail server failure (smtplib.SMTPException, OSError) propagates for the task to retry;
    the rows sent before it stay marked. A crash between the server's acceptance and the commit
    may send one e-mail twice: at least once, never lost.
    """
    sent = 0
    connection = get_connection()
    try:
        for notification_id in notification_ids:
            with transaction.atomic():
                notice = (
                    # Wait for a lock held elsewhere (a «marcar como leídas», another worker):
                    # PostgreSQL then re-checks mailed_at IS NULL on the row as committed, so a
                    # notice mailed meanwhile is not sent twice, and none is skipped for good.
                    Notification.objects.select_for_update(of=("self",))
                    .select_related("recipient")
                    .filter(pk=notification_id, mailed_at__isnull=True)
                    .first()
                )
                if notice is None:
                    continue  # already mailed (by another worker meanwhile too), or deleted
                recipient = notice.recipient
                if not recipient.is_active or not recipient.email:
                    continue
                EmailMessage(
                    subject=notice.subject,
                    body=notice.message,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[recipient.email],
                    connection=connection,
                ).send()
                Notification.objects.filter(pk=notice.pk).update(mailed_at=timezone.now())
                sent += 1
    finally:
        connection.close()
    return sent


# A notice left unmailed this long was never queued (the broker was down at commit) or its task
# gave up (a database error, retries exhausted): the sweep queues it again, for this long.
UNMAILED_SWEEP_AFTER = datetime.timedelta(minutes=15)
UNMAILED_SWEEP_FOR = datetime.timedelta(days=2)


def unmailed_notifications_requeue(*, now: datetime.datetime | None = None) -> int:
    """Beat: queue again the e-mails of notices still unmailed after UNMAILED_SWEEP_AFTER (to a
    recipient who is active and has an address), for up to UNMAILED_SWEEP_FOR. Safe to overlap
    with the original task: each notice is mailed once (notification_mail_send). Returns how many."""
    now = now or timezone.now()
    ids = list(
        Notification.objects.filter(
            mailed_at__isnull=True,
            created_at__lt=now - UNMAILED_SWEEP_AFTER,
            created_at__gte=now - UNMAILED_SWEEP_FOR,
            recipient__is_active=True,
        )
        .exclude(recipient__email="")
        .order_by("id")
        .values_list("pk", flat=True)[:1000]
    )
    if ids:
        _queue_mail(ids)
    return len(ids)
