"""Regressions of the REST API review (issue 5), one section per finding fixed in bfafe2f:
concurrent RUC upserts, blank identity fields on replay, one victim per document in a case,
people per bulk and the advisory lock table, deeply nested JSON, the read scope of writes,
unchanged PATCHes, and unknown query parameters."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.db import connection, transaction
from django.test import Client

from cases.models import Case, Offender
from cases.sync import LOCK_BUCKETS, case_find_by_reference, lock_references
from tests.api.conftest import machine_for
from tests.api.sync_payloads import (
    PROBLEM,
    assert_problem,
    by_ref,
    counts,
    edited,
    error_fields,
    numbered_case,
    plain_case,
)
from tests.factories import CaseFactory
from victims.models import Victim

BULK = "/api/v1/cases/bulk"
THREAD_TIMEOUT = 30  # seconds; a deadlock shows as a thread still waiting


def key() -> str:
    return str(uuid.uuid4())


def race(token: str, requests: list[tuple[str, dict]]) -> list[tuple[int, dict]]:
    """PUT each (path, body) at the same moment, one thread (and one connection) each.
    Returns (status, json) per request; a thread's exception fails the test."""
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def send(index: int, path: str, body: dict) -> None:
        http = Client(raise_request_exception=False)
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            response = http.put(
                path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
            results[index] = (response.status_code, response.json())
        except Exception as exc:  # reported by the test, not lost in the thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i, *request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a request never finished (deadlock?)"
    for result in results:
        assert isinstance(result, tuple), result
    assert all(status < 500 for status, _ in results), results
    return results


def case_with(victims: list[dict], offenders: list[dict] | None = None) -> dict:
    """A case with these people, identity included (plain_case drops identity)."""
    return {**plain_case(victims=[], offenders=[]), "victims": victims, "offenders": offenders or []}


def error_fields_of(problem: dict) -> list[str]:
    return [error["field"] for error in problem.get("errors", [])]


def versions(case_pk: int) -> tuple[int, list[int], list[int]]:
    return (
        Case.objects.get(pk=case_pk).version,
        sorted(Victim.objects.filter(case_links__case_id=case_pk).values_list("version", flat=True)),
        sorted(Offender.objects.filter(case_links__case_id=case_pk).values_list("version", flat=True)),
    )


# --- 1. concurrent upserts of one RUC, however it is written -------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_ruc_written_differently_make_one_case(machine):
    rounds = 4
    for n in range(rounds):
        ruc = f"230012345{n}-K"
        lower, upper = by_ref("fiscalia-ruc", ruc.lower()), by_ref("fiscalia-ruc", ruc)

        # No people: their external ids would be locked in common and hide a race on the RUC.
        body = plain_case(victims=[], offenders=[], purpose="trabajo_forzoso")
        results = race(machine.token, [(lower, body), (upper, body)])

        assert sorted(status for status, _ in results) == [200, 201], results
        assert results[0][1]["id"] == results[1][1]["id"]
        assert results[0][1] == results[1][1]  # the second found the first's case, unchanged
        assert Case.objects.filter(ruc=ruc).count() == 1
        case = case_find_by_reference("fiscalia-ruc", ruc.lower())
        assert case.pk == results[0][1]["id"]
        assert (case.version, case.purpose) == (1, "trabajo_forzoso")
    assert Case.objects.count() == rounds


@pytest.mark.django_db(transaction=True)
def test_a_ruc_upsert_racing_a_parte_upsert_naming_that_ruc_in_its_body_is_never_a_server_error(machine):
    rounds = 4
    for n in range(rounds):
        ruc = f"240077700{n}-5"
        parte = f"PARTE-RUC-{n}"
        # Different people in each body: whichever comes second adds or refuses only its own.
        results = race(
            machine.token,
            [
                (by_ref("fiscalia-ruc", ruc), numbered_case(n)),
                (by_ref("pdi-parte", parte), numbered_case(100 + n, ruc=ruc)),
            ],
        )

        (ruc_status, ruc_body), (parte_status, parte_body) = results
        assert 201 in (ruc_status, parte_status), results
        if ruc_status == 201:
            # The Fiscalía created it; the parte names the RUC of another case: either refused on
            # ``ruc`` or (were the parte to be merged into it) answered on the same case.
            assert parte_status in (200, 400), results
            if parte_status == 400:
                assert "ruc" in error_fields_of(parte_body), parte_body
                assert case_find_by_reference("pdi-parte", parte) is None
            else:
                assert parte_body["id"] == ruc_body["id"]
        else:
            # The parte created the case with the RUC: the Fiscalía's upsert finds and updates it.
            assert parte_status == 201
            assert ruc_status == 200, results
            assert ruc_body["id"] == parte_body["id"]
            assert case_find_by_reference("pdi-parte", parte).pk == ruc_body["id"]
        assert Case.objects.filter(ruc=ruc).count() == 1
        assert case_find_by_reference("fiscalia-ruc", ruc) is not None


# --- 2. blank identity fields replay as no change -----------------------------------------------


def blank_identity_case() -> dict:
    victim = {
        "external_id": "V-BLANK",
        "sex": "femenino",
        "identity": {
            "given_names": "",
            "surnames": "Quispe Mamani",
            "document_type": "pasaporte",
            "document_number": "AB123456",
            "email": "",
            "notes": "",
            "phone": "",
            "address": "",
        },
    }
    offender = {"external_id": "I-BLANK", "sex": "masculino", "identity": {"given_names": "Rigoberto", "surnames": ""}}
    return case_with([victim], [offender])


@pytest.mark.django_db
def test_blank_identity_fields_sent_again_are_no_change(machine):
    path = by_ref("pdi-parte", "PARTE-BLANK")
    body = blank_identity_case()

    responses = [machine.put(path, body) for _ in range(3)]

    assert [r.status_code for r in responses] == [201, 200, 200], responses[-1].content
    assert {r["ETag"] for r in responses} == {'"1"'}
    assert responses[1].json() == responses[0].json() == responses[2].json()
    case_pk = responses[0].json()["id"]
    assert versions(case_pk) == (1, [1], [1])
    victim = Victim.objects.get(external_references__reference="V-BLANK")
    assert victim.surnames == "Quispe Mamani"
    assert victim.document_number == "AB123456"
    assert victim.given_names in (None, "") and victim.email in (None, "") and victim.notes in (None, "")


@pytest.mark.django_db
def test_a_blank_identity_field_replacing_a_value_is_still_a_change(machine):
    path = by_ref("pdi-parte", "PARTE-BLANK-2")
    body = blank_identity_case()
    body["victims"][0]["identity"]["email"] = "persona@example.org"
    assert machine.put(path, body).status_code == 201

    emptied = machine.put(path, edited(body, lambda b: b["victims"][0]["identity"].update(email="")))

    assert emptied.status_code == 200, emptied.content
    assert versions(emptied.json()["id"])[:2] == (2, [2])
    assert Victim.objects.get(external_references__reference="V-BLANK").email in (None, "")


# --- 3. one victim per document in a case -------------------------------------------------------


def passport_victim(external_id: str, number: str = "AB123456", **identity) -> dict:
    return {
        "external_id": external_id,
        "sex": "femenino",
        "identity": {"surnames": "Mamani", "document_type": "pasaporte", "document_number": number, **identity},
    }


@pytest.mark.django_db
def test_a_new_case_with_two_victims_holding_one_passport_is_refused_and_nothing_is_saved(machine):
    body = case_with([passport_victim("V-A"), passport_victim("V-B")])

    response = machine.put(by_ref("pdi-parte", "PARTE-DOC-1"), body)

    assert_problem(response, 400, "victims.1.identity.document_number")
    assert "victims.0.identity.document_number" not in error_fields(response)
    assert set(counts().values()) == {0}


@pytest.mark.django_db
def test_a_new_case_in_a_bulk_with_two_victims_holding_one_passport_is_refused_on_its_own(machine):
    items = [
        {"source": "pdi-parte", "reference": "B-DOC-1", "case": case_with([passport_victim("V-C")])},
        {
            "source": "pdi-parte",
            "reference": "B-DOC-2",
            "case": case_with([passport_victim("V-D", "CD765432"), passport_victim("V-E", "CD765432")]),
        },
    ]

    response = machine.post(BULK, {"items": items}, HTTP_IDEMPOTENCY_KEY=key())

    assert response.status_code == 200, response.content
    first, second = response.json()["results"]
    assert first["status"] == 201
    assert second["status"] == 400
    assert any(e["field"].endswith("victims.1.identity.document_number") for e in second["problem"]["errors"]), second
    assert case_find_by_reference("pdi-parte", "B-DOC-2") is None
    assert Victim.objects.count() == 1


@pytest.mark.django_db
def test_an_existing_case_refuses_a_new_victim_with_the_document_of_one_of_its_victims(machine):
    path = by_ref("pdi-parte", "PARTE-DOC-2")
    body = case_with([passport_victim("V-A", given_names="Ana")])
    created = machine.put(path, body)
    assert created.status_code == 201, created.content
    before = counts()

    response = machine.put(path, edited(body, lambda b: b["victims"].append(passport_victim("V-B"))))

    assert_problem(response, 400, "victims.1.identity.document_number")
    assert counts() == before
    assert versions(created.json()["id"]) == (1, [1], [])
    # Its own document is no conflict: the same victim is updated.
    renamed = machine.put(path, edited(body, lambda b: b["victims"][0]["identity"].update(given_names="Ana María")))
    assert renamed.status_code == 200, renamed.content
    assert Victim.objects.get().given_names == "Ana María"
    assert versions(created.json()["id"]) == (2, [2], [])
    assert counts() == before


@pytest.mark.django_db
def test_an_existing_victim_cannot_take_the_document_of_another_victim_of_the_case(machine):
    path = by_ref("pdi-parte", "PARTE-DOC-3")
    body = case_with([passport_victim("V-A"), passport_victim("V-B", "EF000111")])
    created = machine.put(path, body)
    assert created.status_code == 201, created.content

    response = machine.put(path, edited(body, lambda b: b["victims"][1]["identity"].update(document_number="AB123456")))

    assert_problem(response, 400, "victims.1.identity.document_number")
    assert versions(created.json()["id"]) == (1, [1, 1], [])
    assert Victim.objects.get(external_references__reference="V-B").document_number == "EF000111"


# --- 4. people per bulk, and the advisory lock table ---------------------------------------------


def many_people_item(n: int, victims: int, offenders: int) -> dict:
    case = plain_case(
        victims=[{"external_id": f"V-{n}-{i}"} for i in range(victims)],
        offenders=[{"external_id": f"I-{n}-{i}"} for i in range(offenders)],
    )
    return {"source": "pdi-parte", "reference": f"MANY-{n}", "case": case}


@pytest.mark.django_db
def test_a_bulk_naming_more_than_5000_people_is_refused_on_items_and_saves_nothing(machine):
    items = [many_people_item(n, 100, 100) for n in range(25)] + [many_people_item(25, 1, 0)]  # 5,001 people

    response = machine.post(BULK, {"items": items}, HTTP_IDEMPOTENCY_KEY=key())

    problem = assert_problem(response, 400, "items")
    assert "5000" in json.dumps(problem, ensure_ascii=False).replace(".", "").replace(",", "")
    assert set(counts().values()) == {0}


@pytest.mark.django_db
def test_a_bulk_of_4000_people_succeeds(machine):
    items = [many_people_item(n, 100, 100) for n in range(20)]
    started = time.monotonic()

    response = machine.post(BULK, {"items": items}, HTTP_IDEMPOTENCY_KEY=key())

    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content[:2000]
    answer = response.json()
    assert (answer["succeeded"], answer["failed"]) == (20, 0), answer["results"][:3]
    assert {r["status"] for r in answer["results"]} == {201}
    assert counts()["Victim"] == counts()["CaseVictim"] == 2000
    assert counts()["Offender"] == counts()["CaseOffender"] == 2000
    assert elapsed < 15, elapsed


@pytest.mark.django_db
def test_locking_20000_references_holds_at_most_one_lock_per_bucket():
    with transaction.atomic():
        lock_references(f"victim:1:pdi-parte:V-{i}" for i in range(20_000))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
            )
            (held,) = cursor.fetchone()
    assert 0 < held <= LOCK_BUCKETS <= 1024


# --- 5. deeply nested JSON ----------------------------------------------------------------------

DEEP = [
    pytest.param("[" * 100_000 + "]" * 100_000, id="lists"),
    pytest.param('{"a":' * 50_000 + "1" + "}" * 50_000, id="objects"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", DEEP)
def test_deeply_nested_json_on_put_by_ref_is_a_400(machine, body):
    response = machine.http.put(
        by_ref("pdi-parte", "PARTE-DEEP"), body, content_type="application/json", **machine.headers()
    )

    assert response.status_code == 400, response.content[:500]
    assert response["Content-Type"].startswith(PROBLEM)
    assert response.json()["status"] == 400
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_deeply_nested_json_on_patch_and_bulk_is_a_400(machine, institution):
    case = CaseFactory(lead_institution=institution)
    body = "[" * 100_000 + "]" * 100_000

    patched = machine.http.patch(
        f"/api/v1/cases/{case.pk}/", body, content_type="application/json", **machine.headers()
    )
    bulk = machine.http.post(BULK, body, content_type="application/json", **machine.headers(HTTP_IDEMPOTENCY_KEY=key()))

    for response in (patched, bulk):
        assert response.status_code == 400, response.content[:500]
        assert response["Content-Type"].startswith(PROBLEM)
    case.refresh_from_db()
    assert case.version == 1


# --- 6. writes need the read scope too ----------------------------------------------------------


@pytest.mark.django_db
def test_a_client_with_cases_write_but_not_cases_read_cannot_write(institution):
    writer = machine_for(institution, ["cases:write"], name="Solo escritura")
    case = CaseFactory(lead_institution=institution)

    put = writer.put(by_ref("pdi-parte", "PARTE-SCOPE"), plain_case())
    patch = writer.patch(f"/api/v1/cases/{case.pk}/", {"status": "suspendida"})
    bulk = writer.post(
        BULK,
        {"items": [{"source": "pdi-parte", "reference": "B-SCOPE", "case": plain_case()}]},
        HTTP_IDEMPOTENCY_KEY=key(),
    )

    for response in (put, patch, bulk):
        assert response.status_code == 403, response.content
        assert response["Content-Type"].startswith(PROBLEM)
        assert "ETag" not in response
    assert case_find_by_reference("pdi-parte", "PARTE-SCOPE") is None
    assert case_find_by_reference("pdi-parte", "B-SCOPE") is None
    case.refresh_from_db()
    assert (case.version, case.status) == (1, "vigente")
    # With the read scope as well, the same writes go through.
    both = machine_for(institution, ["cases:read", "cases:write"], name="Lectura y escritura")
    assert both.put(by_ref("pdi-parte", "PARTE-SCOPE"), plain_case()).status_code == 201
    assert both.patch(f"/api/v1/cases/{case.pk}/", {"status": "suspendida"}).status_code == 200


# --- 7. an unchanged PATCH writes nothing -------------------------------------------------------


@pytest.mark.django_db
def test_a_patch_with_nothing_new_answers_200_and_keeps_the_version(machine):
    body = plain_case(victims=[], offenders=[])
    created = machine.put(by_ref("fiscalia-ruc", "2300444555-K"), body)
    assert created.status_code == 201, created.content
    case_pk = created.json()["id"]
    url = f"/api/v1/cases/{case_pk}/"
    updated_at = Case.objects.get(pk=case_pk).updated_at
    same = {
        name: value for name, value in body.items() if name not in ("external_references", "victims", "offenders")
    } | {"ruc": "2300444555-K", "termination_type": "", "termination_date": None}

    for payload in ({}, same):
        answers = [machine.patch(url, payload) for _ in range(3)]
        assert [r.status_code for r in answers] == [200] * 3, answers[0].content
        assert {r["ETag"] for r in answers} == {'"1"'}
        assert answers[0].json() == answers[1].json() == answers[2].json()
        assert answers[0].json()["version"] == 1
        case = Case.objects.get(pk=case_pk)
        assert (case.version, case.updated_at) == (1, updated_at)
    # With If-Match of the current version, still no change; a real change is one version more.
    assert machine.patch(url, same, HTTP_IF_MATCH='"1"').status_code == 200
    assert Case.objects.get(pk=case_pk).version == 1
    changed = machine.patch(url, {"status": "suspendida"})
    assert changed.status_code == 200 and changed["ETag"] == '"2"'
    assert machine.patch(url, {"status": "suspendida"})["ETag"] == '"2"'


@pytest.mark.django_db
def test_an_unchanged_patch_with_a_stale_if_match_is_still_412(machine):
    created = machine.put(by_ref("pdi-parte", "PARTE-PATCH-412"), plain_case())
    url = f"/api/v1/cases/{created.json()['id']}/"
    assert machine.patch(url, {"status": "suspendida"}).status_code == 200

    assert_problem(machine.patch(url, {}, HTTP_IF_MATCH='"1"'), 412)


# --- 8. unknown query parameters ----------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_query_parameter_is_refused_naming_it(machine, institution):
    CaseFactory(lead_institution=institution)

    assert_problem(machine.get("/api/v1/cases/?updatedsince=2024-01-01T00:00:00Z"), 400, "updatedsince")
    assert_problem(machine.get("/api/v1/cases/?status=vigente&stauts=vigente"), 400, "stauts")
    # The spelling the schema documents still answers.
    assert machine.get("/api/v1/cases/?updated_since=2024-01-01T00:00:00Z").status_code == 200
