"""Test settings: real PostgreSQL and Redis from the environment, fixed throw-away keys."""

import base64
import hashlib
import os


# Test-only keys, derived from fixed labels so every run (and every xdist worker) agrees.
# They protect nothing: no real data is ever encrypted under them.
def _test_key(label: str) -> str:
    return base64.b64encode(hashlib.sha256(f"mitp-test-{label}".encode()).digest()).decode()


os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-used-anywhere-else")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", f"1:{_test_key('k1')}")
os.environ.setdefault("BLIND_INDEX_KEY", _test_key("blind"))

from config.settings.base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "api.hashers.ClientSecretHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A task queued in a test runs at once, in the test (after the commit that queues it, as a
# worker would). Tests of a real worker turn this off (tests/protocol/conftest.py, celery_worker).
CELERY_TASK_ALWAYS_EAGER = True
# Each test process has its own queue: two xdist workers' embedded Celery workers never take
# each other's tasks (and run them against the other's test database).
CELERY_TASK_DEFAULT_QUEUE = f"mitp-test-{os.getpid()}"
NOTIFICATION_MAIL_RETRY_BACKOFF = 1  # the retry tests wait a second or two, not minutes
CACHES["default"]["KEY_PREFIX"] = f"mitp-test-{os.getpid()}"  # noqa: F405
