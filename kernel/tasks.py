from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task(name="kernel.heartbeat")
def heartbeat() -> str:
    """Proves a worker consumes the queue and reaches Redis; used by health checks and tests."""
    stamp = timezone.now().isoformat()
    cache.set("kernel:last-heartbeat", stamp, timeout=3600)
    return stamp
