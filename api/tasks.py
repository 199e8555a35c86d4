"""Housekeeping of the API's stored state (Celery beat, config/settings/base.py)."""

from celery import shared_task
from oauth2_provider.models import clear_expired

from api.idempotency import purge_expired


@shared_task(name="api.purge_idempotency_records")
def purge_idempotency_records() -> int:
    """Stored responses are replayed for 24 hours only; after that they are deleted."""
    return purge_expired()


@shared_task(name="api.clear_expired_tokens")
def clear_expired_tokens() -> None:
    """Expired access tokens are of no use to anyone: django-oauth-toolkit's cleartokens."""
    clear_expired()
