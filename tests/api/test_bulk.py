"""POST /api/v1/cases/bulk: per-item results, Idempotency-Key replays, limits."""

from __future__ import annotations

import uuid

import pytest

from api.models import IdempotencyRecord
from cases.models import Case
from cases.sync import case_find_by_reference
from tests.api.conftest import machine_for
from tests.api.sync_payloads import assert_problem, by_ref, counts, edited, full_case, leaked, numbered_case
from tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db

BULK = "/api/v1/cases/bulk"


def item(reference: str, case: dict, source: str = "pdi-parte") -> dict:
    return {"source": source, "reference": reference, "case": case}


def key() -> str:
    return str(uuid.uuid4())


def good_and_bad(bad_case: dict) -> dict:
    return {
        "items": [
            item("B-1", numbered_case(1)),
            item("B-2", numbered_case(2, purpose="trabajo_forzoso")),
            item("B-3", bad_case),
            item("B-4", numbered_case(4, region_detected="CL-AN")),
        ]
    }


def test_each_item_succeeds_or_fails_on_its_own(machine):
    body = good_and_bad(numbered_case(3, status="terminada", termination_date="2024-02-01"))

    response = machine.post(BULK, body, HTTP_IDEMPOTENCY_KEY=key())

    assert response.status_code == 200, response.content
    answer = response.json()
    results = answer["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [r["status"] for r in results] == [201, 201, 400, 201]
    assert (answer["succeeded"], answer["failed"]) == (3, 1)
    problem = results[2]["problem"]
    assert problem["status"] == 400
    assert any(error["field"].endswith("termination_type") for error in problem["errors"]), problem
    assert "case_id" not in results[2]
    for result, reference in zip([results[0], results[1], results[3]], ["B-1", "B-2", "B-4"], strict=True):
        assert (result["created"], result["changed"], result["version"]) == (True, True, 1)
        assert case_find_by_reference("pdi-parte", reference).pk == result["case_id"]
    assert case_find_by_reference("pdi-parte", "B-3") is None
    assert Case.objects.get(pk=results[1]["case_id"]).purpose == "trabajo_forzoso"
    assert Case.objects.get(pk=results[3]["case_id"]).region_detected == "CL-AN"
    assert counts() == {
        "Case": 3,
        "CaseExternalReference": 3,
        "Victim": 9,
        "VictimExternalReference": 9,
        "CaseVictim": 9,
        "Offender": 6,
        "OffenderExternalReference": 6,
        "CaseOffender": 6,
    }


def test_a_replay_with_the_same_key_answers_the_same_and_creates_nothing(machine):
    body = good_and_bad(numbered_case(3, status="terminada"))
    idempotency_key = key()
    first = machine.post(BULK, body, HTTP_IDEMPOTENCY_KEY=idempotency_key)
    assert first.status_code == 200
    before = counts()
    versions = dict(Case.objects.values_list("pk", "version"))

    replay = machine.post(BULK, body, HTTP_IDEMPOTENCY_KEY=idempotency_key)

    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert counts() == before
    assert dict(Case.objects.values_list("pk", "version")) == versions
    assert IdempotencyRecord.objects.filter(key=idempotency_key).count() == 1

    # The same key with another body is refused, and does nothing.
    other = edited(body, lambda b: b["items"].append(item("B-5", numbered_case(5))))
    reused = machine.post(BULK, other, HTTP_IDEMPOTENCY_KEY=idempotency_key)
    assert_problem(reused, 422)
    assert counts() == before

    # A new key for the same data: the upserts themselves are replays (200, nothing changed).
    again = machine.post(BULK, body, HTTP_IDEMPOTENCY_KEY=key())
    assert [r["status"] for r in again.json()["results"]] == [200, 200, 400, 200]
    assert not any(r.get("changed") for r in again.json()["results"])
    assert counts() == before
    assert dict(Case.objects.values_list("pk", "version")) == versions


def test_a_request_that_does_not_match_the_schema_is_refused_whole(machine):
    """Per-item results are for what the rules refuse; a body outside the documented schema (a
    bad value in one item) is refused as a whole, naming the item's field, and saves nothing."""
    bad = edited(numbered_case(3), lambda case: case["victims"][0].update(sex="desconocido"))

    response = machine.post(BULK, good_and_bad(bad), HTTP_IDEMPOTENCY_KEY=key())

    assert_problem(response, 400, "items.2.case.victims.0.sex")
    assert counts()["Case"] == 0
    assert not IdempotencyRecord.objects.exists()  # the key may be used again for the corrected request


def test_items_refused_by_access_rules_fail_alone_and_say_why(machine, institution):
    carabineros = InstitutionFactory(short_name="CARAB", name="Carabineros de Chile")
    owner = machine_for(carabineros, name="Sistema de Carabineros")
    held = owner.put(by_ref("carabineros-parte", "CAR-1"), numbered_case(9))
    assert held.status_code == 201
    writer = machine_for(institution, ["cases:read", "cases:write"])
    before = counts()

    response = writer.post(
        BULK,
        {
            "items": [
                item("B-12", numbered_case(12)),
                item("CAR-1", numbered_case(10), source="carabineros-parte"),  # a case PDI cannot see
                item("B-11", full_case()),  # identity, from a client without identity:write
            ]
        },
        HTTP_IDEMPOTENCY_KEY=key(),
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 409, 403]
    assert all(r["problem"]["detail"] for r in results[1:])
    assert leaked(response) == []
    assert counts()["Case"] == before["Case"] + 1
    assert owner.get(by_ref("carabineros-parte", "CAR-1")).json() == held.json()


def test_an_item_that_fails_after_its_case_was_built_does_not_break_the_next_ones(machine):
    """The institution's very first case fails in its own savepoint (a victim's age is missing),
    taking with it the institution's permission group created for it; the next item must still
    be saved, not answer 500 for the whole request."""
    machine.http.raise_request_exception = False
    bad = edited(numbered_case(1), lambda case: case["victims"][0].pop("age_at_facts"))

    response = machine.post(
        BULK, {"items": [item("F-1", bad), item("F-2", numbered_case(2))]}, HTTP_IDEMPOTENCY_KEY=key()
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [400, 201]
    assert any(error["field"] == "victims.0.age_at_facts" for error in results[0]["problem"]["errors"])
    case = case_find_by_reference("pdi-parte", "F-2")
    assert case is not None and case.pk == results[1]["case_id"]
    assert machine.get(f"/api/v1/cases/{case.pk}/").status_code == 200  # and the institution sees it


def test_more_than_500_items_are_refused(machine):
    items = [item(f"M-{n}", {"intake_date": "2023-03-01"}) for n in range(501)]

    response = machine.post(BULK, {"items": items}, HTTP_IDEMPOTENCY_KEY=key())

    assert_problem(response, 400, "items")
    assert Case.objects.count() == 0
    assert not IdempotencyRecord.objects.exists()


def test_an_empty_bulk_is_refused(machine):
    assert_problem(machine.post(BULK, {"items": []}, HTTP_IDEMPOTENCY_KEY=key()), 400, "items")


@pytest.mark.parametrize(
    "header", [None, "", "k" * 256, "nightly-2024-05-01"], ids=["missing", "empty", "too-long", "not-a-uuid"]
)
def test_a_bulk_without_a_valid_idempotency_key_is_refused(machine, header):
    extra = {} if header is None else {"HTTP_IDEMPOTENCY_KEY": header}

    response = machine.post(BULK, {"items": [item("K-1", numbered_case(1))]}, **extra)

    assert_problem(response, 400, "Idempotency-Key")
    assert Case.objects.count() == 0
