"""Developer machine. `make install` writes var/dev.env (keys); without DATABASE_URL/REDIS_URL
the embedded servers of `make run` are assumed (their sockets live in var/), so manage.py
commands work in another terminal while `make run` is serving."""

import os
from pathlib import Path
from urllib.parse import quote

import environ

VAR = Path(__file__).resolve().parent.parent.parent / "var"
environ.Env.read_env(VAR / "dev.env")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@/mitp?host={quote(str(VAR / 'pg'))}")
os.environ.setdefault("REDIS_URL", f"unix://{VAR / 'redis' / 'redis.sock'}?db=0")

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=True)
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
