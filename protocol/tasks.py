from celery import shared_task

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
