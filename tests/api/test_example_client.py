"""examples/sync_client.py, the client docs/integration.md points integrators to, run as they
would run it: a separate process talking HTTP to a live server, with a registered client."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.services import api_client_create
from api.throttling import ClientRateThrottle
from cases.models import Case, CaseExternalReference
from tests.factories import InstitutionFactory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLIENT = EXAMPLES / "sync_client.py"
SAMPLE_REFERENCE = "2025-000123"


@pytest.fixture
def pdi(db):
    return InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")


def run_client(live_server, new_client, *args: str) -> subprocess.CompletedProcess:
    env = {
        **{name: value for name, value in os.environ.items() if "proxy" not in name.lower()},
        "MITP_BASE_URL": live_server.url,
        "MITP_CLIENT_ID": new_client.client.client_id,
        "MITP_CLIENT_SECRET": new_client.client_secret,
    }
    return subprocess.run(
        [sys.executable, str(CLIENT), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def statuses(output: str) -> list[str]:
    return re.findall(r"^PUT /api/v1/cases/by-ref/\S+ -> (\d{3})", output, flags=re.MULTILINE)


def case_by_pdi_report(reference: str) -> Case:
    references = CaseExternalReference.objects.filter(source="pdi-parte", reference=reference)
    assert references.count() == 1
    return references.get().case


@pytest.mark.django_db(transaction=True)
def test_the_example_creates_the_case_once_and_its_replay_answers_200(live_server, pdi):
    new = api_client_create(
        institution=pdi, name="Sistema de partes PDI", scopes=["cases:read", "cases:write"], sources=["pdi-parte"]
    )

    result = run_client(live_server, new)

    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(result.stdout) == ["201", "200"]
    assert 'ETag "1"' in result.stdout
    assert "identical" in result.stdout
    assert Case.objects.count() == 1
    case = case_by_pdi_report(SAMPLE_REFERENCE)
    assert case.lead_institution == pdi
    assert case.version == 1  # the replay changed nothing
    victims = {link.victim.external_references.get().reference: link for link in case.victim_links.all()}
    assert set(victims) == {"PV-2025-0123-1", "PV-2025-0123-2"}
    assert victims["PV-2025-0123-2"].is_minor
    offenders = [link.offender.external_references.get().reference for link in case.offender_links.all()]
    assert offenders == ["PI-2025-0123-1"]


@pytest.mark.django_db(transaction=True)
def test_the_example_payload_with_identity_is_accepted_and_stored_encrypted(live_server, pdi):
    payload = json.loads((EXAMPLES / "case-pdi-parte.json").read_text(encoding="utf-8"))
    new = api_client_create(
        institution=pdi,
        name="Sistema de partes PDI",
        scopes=["cases:read", "cases:write", "identity:write"],
        sources=["pdi-parte"],
    )

    result = run_client(live_server, new, "--file", str(EXAMPLES / "case-pdi-parte.json"), "--reference", "2025-000412")

    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(result.stdout) == ["201", "200"]
    assert payload["victims"][0]["identity"]["surnames"] not in result.stdout  # identity is write-only
    case = case_by_pdi_report("2025-000412")
    first = case.victim_links.get(victim__external_references__reference="PV-2025-0412-1").victim
    assert first.surnames == payload["victims"][0]["identity"]["surnames"]
    assert case.victim_links.count() == 2
    assert case.offender_links.count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_identity_write_the_example_payload_is_refused_and_nothing_is_written(live_server, pdi):
    new = api_client_create(
        institution=pdi, name="Sistema de partes PDI", scopes=["cases:read", "cases:write"], sources=["pdi-parte"]
    )

    result = run_client(live_server, new, "--file", str(EXAMPLES / "case-pdi-parte.json"))

    assert result.returncode == 1
    assert "-> 403" in result.stderr
    assert not Case.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_example_prints_the_field_paths_of_a_refused_body(live_server, pdi, tmp_path):
    body = tmp_path / "case.json"
    body.write_text(json.dumps({"intake_date": "2025-02-30", "victims": [{"external_id": "V-1", "sex": "mujer"}]}))
    new = api_client_create(
        institution=pdi, name="Sistema de partes PDI", scopes=["cases:read", "cases:write"], sources=["pdi-parte"]
    )

    result = run_client(live_server, new, "--file", str(body))

    assert result.returncode == 1
    assert "-> 400" in result.stderr
    assert "- intake_date: " in result.stderr
    assert "- victims.0.sex: " in result.stderr
    assert not Case.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_example_waits_as_long_as_retry_after_says_and_carries_on(live_server, pdi, monkeypatch):
    calls = []
    allow_request = ClientRateThrottle.allow_request

    def refuse_the_second_call(self, request, view):
        calls.append(request.method)
        return len(calls) != 2 and allow_request(self, request, view)

    # In this process, where the live server answers: the replay is refused once, for a second.
    monkeypatch.setattr(ClientRateThrottle, "allow_request", refuse_the_second_call)
    monkeypatch.setattr(ClientRateThrottle, "wait", lambda self: 1)
    new = api_client_create(
        institution=pdi, name="Sistema de partes PDI", scopes=["cases:read", "cases:write"], sources=["pdi-parte"]
    )

    result = run_client(live_server, new)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "-> 429 Too Many Requests: waiting 1 s (Retry-After: 1)" in result.stdout
    assert statuses(result.stdout) == ["201", "429", "200"]
    assert calls == ["PUT", "PUT", "PUT"]
    assert case_by_pdi_report(SAMPLE_REFERENCE).version == 1


def test_without_credentials_the_example_says_what_is_missing():
    env = {name: value for name, value in os.environ.items() if not name.startswith("MITP_")}
    result = subprocess.run(
        [sys.executable, str(CLIENT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 2
    assert "MITP_BASE_URL, MITP_CLIENT_ID, MITP_CLIENT_SECRET" in result.stderr
