from django.conf import settings
from redis import Redis


def redis_ping() -> bool:
    try:
        return bool(Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping())
    except Exception:
        return False
