from celery import shared_task

from protocol.referrals import overdue_referrals_notify


@shared_task(name="protocol.notify_overdue_referrals")
def notify_overdue_referrals() -> int:
    """Beat: referrals past their response deadline, told to the provider once each."""
    return overdue_referrals_notify()
