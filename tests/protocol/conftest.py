"""Helpers for the protocol's background jobs through a real Celery worker (the
``celery_worker`` fixture of tests/conftest.py): waiting for what the worker does next, and a
mail server that fails."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable

import pytest
from django.core.mail.backends.locmem import EmailBackend

TASK_TIMEOUT = 30  # seconds a task may take through the real worker before the test fails


def wait_until(condition: Callable[[], bool], *, timeout: float = TASK_TIMEOUT) -> None:
    """For what the worker does after the task a test waits on (a task that task queued)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.05)


class FlakySMTPBackend(EmailBackend):
    """A mail server that is down for the next ``failures`` sends (it hangs up), then delivers
    to Django's locmem outbox. Class-level, so the worker's thread sees what the test set."""

    failures = 0
    attempts = 0

    def send_messages(self, messages):
        type(self).attempts += 1
        if type(self).failures > 0:
            type(self).failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def flaky_smtp(settings):
    FlakySMTPBackend.failures = FlakySMTPBackend.attempts = 0
    settings.EMAIL_BACKEND = f"{FlakySMTPBackend.__module__}.{FlakySMTPBackend.__qualname__}"
    yield FlakySMTPBackend
    FlakySMTPBackend.failures = FlakySMTPBackend.attempts = 0
