"""Telling people: an in-app notification each, and an e-mail each once the transaction that
decided to tell them commits."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction

from institutions.models import User
from protocol.models import Notification


def notify(recipients: Iterable[User], *, subject: str, message: str, **about) -> None:
    """``about``: what the notice is about (Notification's referral, alert, residence_reminder).

    The e-mails leave only after commit: a rolled-back run e-mails nobody. A mail server failure
    is logged (robust) and stops nothing else; the in-app notice is saved either way.
    """
    recipients = list(recipients)
    Notification.objects.bulk_create([Notification(recipient=user, message=message, **about) for user in recipients])
    mails = [(subject, message, settings.DEFAULT_FROM_EMAIL, [user.email]) for user in recipients if user.email]
    transaction.on_commit(lambda: send_mass_mail(mails, fail_silently=False), robust=True)
