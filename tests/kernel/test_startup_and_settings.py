"""The application refuses to start without usable keys, and production settings are sound.

These run `manage.py` in a child process, as an operator would."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = base64.b64encode(b"k" * 32).decode()
OTHER_KEY = base64.b64encode(b"b" * 32).decode()


def manage(*args: str, **env_overrides: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 64 + "-a-long-random-production-secret-for-this-test",
            "DJANGO_ALLOWED_HOSTS": "mitp.example.cl",
            "FIELD_ENCRYPTION_KEYS": f"1:{GOOD_KEY}",
            "BLIND_INDEX_KEY": OTHER_KEY,
            "DJANGO_DEFAULT_FROM_EMAIL": "MITP <no-responder@mitp.example.cl>",
        }
    )
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS is not set"),
        ({"FIELD_ENCRYPTION_KEYS": "clave"}, "entry 1 is malformed"),
        ({"FIELD_ENCRYPTION_KEYS": "1:c2hvcnQ="}, "must decode to 32 bytes"),
        ({"BLIND_INDEX_KEY": None}, "BLIND_INDEX_KEY is not set"),
        ({"BLIND_INDEX_KEY": GOOD_KEY}, "BLIND_INDEX_KEY must differ from encryption key version 1"),
    ],
)
def test_the_app_refuses_to_start_with_missing_or_malformed_keys(overrides, message):
    result = manage("check", **overrides)
    assert result.returncode != 0
    assert "Encryption keys are not usable" in result.stderr and message in result.stderr
    assert GOOD_KEY not in result.stderr and OTHER_KEY not in result.stderr  # never echo key material


def test_production_settings_pass_the_deployment_checklist_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_every_model_change_has_its_migration(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_the_product_speaks_chilean_spanish_in_santiago_time(settings):
    assert settings.LANGUAGE_CODE == "es-cl"
    assert settings.TIME_ZONE == "America/Santiago"
    from django.utils import formats, translation

    with translation.override("es-cl"):
        import datetime

        assert formats.date_format(datetime.date(2026, 11, 28), "SHORT_DATE_FORMAT") == "28-11-2026"
        assert formats.number_format(1234567.5, decimal_pos=1, use_l10n=True, force_grouping=True) == "1.234.567,5"
