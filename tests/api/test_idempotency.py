"""Idempotency-Key on POST /api/v1/cases/bulk: a replay returns the first answer without acting
again, a reused key with another request is refused, keys belong to their caller, the stored
answer is encrypted, failures leave no record, and records expire after 24 hours."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from api.idempotency import purge_expired
from api.models import IdempotencyRecord
from cases.models import Case, CaseExternalReference
from kernel.crypto import aead
from tests.api.conftest import machine_for
from tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
BULK = reverse("api:case_bulk")


def bulk_body(*references: str, intake_date: str = "2024-01-10") -> dict:
    return {
        "items": [
            {"source": "pdi-parte", "reference": reference, "case": {"intake_date": intake_date}}
            for reference in references
        ]
    }


def bulk(machine, body, key: str):
    return machine.post(BULK, body, HTTP_IDEMPOTENCY_KEY=key)


def cases_with(reference: str):
    return Case.objects.filter(external_references__source="pdi-parte", external_references__reference=reference)


def test_a_replay_returns_the_first_answer_and_does_nothing_again(machine):
    key = str(uuid.uuid4())
    first = bulk(machine, bulk_body("PARTE-100", "PARTE-101"), key)
    assert first.status_code == 200, first.content
    assert not first.has_header("Idempotent-Replayed")
    assert first.json()["succeeded"] == 2 and all(item["created"] for item in first.json()["results"])
    cases, references = Case.objects.count(), CaseExternalReference.objects.count()
    versions = dict(Case.objects.values_list("pk", "version"))

    replay = bulk(machine, bulk_body("PARTE-100", "PARTE-101"), key)

    assert replay.status_code == first.status_code
    assert replay.json() == first.json()  # "created": true again: the first answer, not a new upsert
    assert replay["Idempotent-Replayed"] == "true"
    assert "no-store" in replay["Cache-Control"]
    assert Case.objects.count() == cases and CaseExternalReference.objects.count() == references
    assert dict(Case.objects.values_list("pk", "version")) == versions
    assert IdempotencyRecord.objects.count() == 1


def test_without_the_key_a_second_request_does_act_again(machine):
    """The control for the replay test: the same body under a new key is processed anew."""
    first = bulk(machine, bulk_body("PARTE-100"), str(uuid.uuid4()))
    again = bulk(machine, bulk_body("PARTE-100"), str(uuid.uuid4()))
    assert again.status_code == 200 and not again.has_header("Idempotent-Replayed")
    assert first.json()["results"][0]["created"] is True
    assert again.json()["results"][0]["created"] is False
    assert IdempotencyRecord.objects.count() == 2


def test_the_same_key_with_another_body_is_a_422_problem_and_does_nothing(machine):
    key = str(uuid.uuid4())
    assert bulk(machine, bulk_body("PARTE-100"), key).status_code == 200
    response = bulk(machine, bulk_body("PARTE-200"), key)
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == 422 and "Idempotency-Key" in body["detail"]
    assert not response.has_header("Idempotent-Replayed")
    assert not cases_with("PARTE-200").exists()
    assert cases_with("PARTE-100").count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_key_of_another_client_does_not_collide(institution):
    first = machine_for(institution, name="Uno")
    second = machine_for(institution, name="Dos")
    elsewhere = machine_for(InstitutionFactory(short_name="CARAB"), name="Tres")
    key = str(uuid.uuid4())
    assert bulk(first, bulk_body("PARTE-100"), key).json()["results"][0]["created"] is True

    same_body = bulk(second, bulk_body("PARTE-100"), key)
    assert same_body.status_code == 200 and not same_body.has_header("Idempotent-Replayed")
    assert same_body.json()["results"][0]["created"] is False  # acted: found the case the first one made

    other_body = bulk(elsewhere, bulk_body("PARTE-300"), key)
    assert other_body.status_code == 200 and not other_body.has_header("Idempotent-Replayed")
    assert other_body.json()["results"][0]["created"] is True
    assert cases_with("PARTE-300").get().lead_institution.short_name == "CARAB"

    assert set(IdempotencyRecord.objects.filter(key=key).values_list("caller_id", flat=True)) == {
        first.user.pk,
        second.user.pk,
        elsewhere.user.pk,
    }


def test_the_stored_answer_is_ciphertext_bound_to_its_row(machine):
    key = str(uuid.uuid4())
    response = bulk(machine, bulk_body("PARTE-100"), key)
    record = IdempotencyRecord.objects.get()
    assert json.loads(record.response_body) == response.json()  # decrypts through the model

    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body FROM api_idempotencyrecord WHERE id = %s", [record.pk])
        raw = bytes(cursor.fetchone()[0])
    plaintext = response.content
    assert plaintext not in raw
    for marker in (b"PARTE-100", b"succeeded", b"results", b'"case_id"'):
        assert marker not in raw
    field = IdempotencyRecord._meta.get_field("response_body")
    assert json.loads(aead.unseal(raw, context=field.context_for(record.pk))) == response.json()
    with pytest.raises(aead.DecryptionError):
        aead.unseal(raw, context=field.context_for(uuid.uuid4()))  # copied to another row, it opens nothing


@pytest.mark.parametrize(
    "bad_body",
    [{"items": []}, {"items": [{"source": "pdi-parte", "reference": "PARTE 1!", "case": {}}]}, {}],
    ids=["no-items", "bad-item", "empty"],
)
def test_a_refused_request_leaves_no_record_and_the_key_can_be_used_again(machine, bad_body):
    key = str(uuid.uuid4())
    refused = bulk(machine, bad_body, key)
    assert refused.status_code == 400
    assert refused["Content-Type"] == PROBLEM and refused.json()["errors"]
    assert not IdempotencyRecord.objects.exists()

    retried = bulk(machine, bulk_body("PARTE-100"), key)
    assert retried.status_code == 200, retried.content
    assert not retried.has_header("Idempotent-Replayed")
    assert cases_with("PARTE-100").count() == 1
    assert IdempotencyRecord.objects.get().key == key


@pytest.mark.parametrize(
    "key",
    [None, "", "not-a-uuid", "x" * 256, "tab\there"],
    ids=["missing", "empty", "not-uuid", "too-long", "control"],
)
def test_a_post_without_a_valid_key_is_a_400_problem_and_does_nothing(machine, key):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    response = machine.post(BULK, bulk_body("PARTE-100"), **headers)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert [error["field"] for error in response.json()["errors"]] == ["Idempotency-Key"]
    assert not Case.objects.exists() and not IdempotencyRecord.objects.exists()


def test_the_key_is_compared_as_a_uuid(machine):
    key = uuid.uuid4()
    first = bulk(machine, bulk_body("PARTE-100"), str(key))
    replay = bulk(machine, bulk_body("PARTE-100"), str(key).upper())
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert cases_with("PARTE-100").count() == 1


def _age(key: str, hours: float) -> None:
    IdempotencyRecord.objects.filter(key=key).update(created_at=timezone.now() - datetime.timedelta(hours=hours))


def test_a_record_older_than_24_hours_is_ignored(machine):
    key = str(uuid.uuid4())
    assert bulk(machine, bulk_body("PARTE-100"), key).status_code == 200
    _age(key, 24.1)

    # Another body under the old key is no longer a conflict: the key is free again.
    response = bulk(machine, bulk_body("PARTE-200"), key)
    assert response.status_code == 200, response.content
    assert not response.has_header("Idempotent-Replayed")
    assert cases_with("PARTE-200").count() == 1
    record = IdempotencyRecord.objects.get(key=key)
    assert timezone.now() - record.created_at < datetime.timedelta(minutes=1)


def test_a_record_younger_than_24_hours_still_replays(machine):
    key = str(uuid.uuid4())
    first = bulk(machine, bulk_body("PARTE-100"), key)
    _age(key, 23.9)
    replay = bulk(machine, bulk_body("PARTE-100"), key)
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()


def test_purge_expired_deletes_only_the_records_older_than_24_hours(machine):
    old, recent = str(uuid.uuid4()), str(uuid.uuid4())
    assert bulk(machine, bulk_body("PARTE-100"), old).status_code == 200
    assert bulk(machine, bulk_body("PARTE-101"), recent).status_code == 200
    _age(old, 25)
    _age(recent, 23)

    assert purge_expired() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == [recent]
    assert purge_expired() == 0
    assert Case.objects.count() == 2  # only the records go, never what the requests did
