"""Concurrent upserts and bulk requests (real transactions, two threads), and the sync list:
cursor pagination, ``updated_since`` and the filters of GET /api/v1/cases/."""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from urllib.parse import urlencode, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from cases.models import Case, CaseOffender
from cases.sync import case_find_by_reference
from tests.api.sync_payloads import assert_problem, by_ref, numbered_case
from tests.factories import CaseFactory, InstitutionFactory
from victims.models import CaseVictim, Victim, VictimExternalReference

THREAD_TIMEOUT = 30  # seconds; a deadlock would show as a thread still waiting


def race(token: str, requests: list[tuple[str, str, dict, dict]]) -> list:
    """Send the requests at the same moment, one thread (and one connection) each.

    ``requests``: (method, path, body, extra headers). Returns (status, json) per request, or
    the exception a thread met.
    """
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def send(index: int, method: str, path: str, body: dict, extra: dict) -> None:
        http = Client(raise_request_exception=False)
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            response = getattr(http, method)(
                path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", **extra
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
    return results


# --- concurrent writes --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_upserts_of_the_same_reference_make_one_case(machine):
    for round_ in range(3):
        reference = f"CONC-{round_}"
        body = numbered_case(round_)

        results = race(machine.token, [("put", by_ref("pdi-parte", reference), body, {})] * 2)

        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 201], results
        assert results[0][1] == results[1][1]  # the same case, the same version, the same people
        case = case_find_by_reference("pdi-parte", reference)
        assert case.version == 1
        assert CaseVictim.objects.filter(case=case).count() == 3
        assert CaseOffender.objects.filter(case=case).count() == 2
    assert Case.objects.count() == 3
    assert Victim.objects.count() == VictimExternalReference.objects.count() == 9


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_bulks_naming_the_same_references_in_opposite_order_do_not_deadlock(machine):
    references = [f"BULK-{n}" for n in range(6)]
    items = [{"source": "pdi-parte", "reference": ref, "case": numbered_case(n)} for n, ref in enumerate(references)]
    requests = [
        ("post", "/api/v1/cases/bulk", {"items": items}, {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}),
        ("post", "/api/v1/cases/bulk", {"items": items[::-1]}, {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}),
    ]

    results = race(machine.token, requests)

    assert [status for status, _ in results] == [200, 200], results
    forward, backward = (body["results"] for _, body in results)
    assert all(result["status"] in (200, 201) for result in forward + backward)
    created = [result["case_id"] for result in forward + backward if result["status"] == 201]
    assert len(created) == len(set(created)) == len(references)  # each case created once, by one request
    assert {r["case_id"] for r in forward} == {r["case_id"] for r in backward}
    assert Case.objects.count() == len(references)
    for n, reference in enumerate(references):
        case = case_find_by_reference("pdi-parte", reference)
        assert case.pk == forward[n]["case_id"] == backward[-1 - n]["case_id"]
        assert CaseVictim.objects.filter(case=case).count() == 3
    assert Victim.objects.count() == 3 * len(references)


# --- GET /api/v1/cases/: cursor pagination, updated_since, filters ------------------------------


def list_url(**params) -> str:
    return "/api/v1/cases/?" + urlencode(params) if params else "/api/v1/cases/"


def listed_ids(machine, **params) -> list[int]:
    response = machine.get(list_url(**params))
    assert response.status_code == 200, response.content
    return [case["id"] for case in response.json()["results"]]


@pytest.fixture
def carabineros(db):
    return InstitutionFactory(short_name="CARAB", name="Carabineros de Chile")


@pytest.mark.django_db
def test_the_cursor_walks_every_case_exactly_once(machine, institution, carabineros):
    ours = {CaseFactory(lead_institution=institution).pk for _ in range(7)}
    CaseFactory.create_batch(2, lead_institution=carabineros)

    pages, seen = [], []
    url = list_url(page_size=3)
    while url:
        response = machine.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        pages.append(len(page["results"]))
        seen += [case["id"] for case in page["results"]]
        url = page["next"] and "{0.path}?{0.query}".format(urlsplit(page["next"]))
        assert len(pages) <= 5, "the cursor does not end"

    assert pages == [3, 3, 1]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == ours


@pytest.mark.django_db
def test_updated_since_returns_only_the_cases_changed_since_then(machine, institution):
    old = [CaseFactory(lead_institution=institution) for _ in range(3)]
    since = timezone.now()
    changed = machine.patch(f"/api/v1/cases/{old[1].pk}/", {"status": "suspendida"})
    assert changed.status_code == 200
    new = machine.put(by_ref("pdi-parte", "NEW-1"), numbered_case(1)).json()

    assert sorted(listed_ids(machine, updated_since=since.isoformat())) == sorted([old[1].pk, new["id"]])
    assert len(listed_ids(machine, updated_since=(since - datetime.timedelta(days=1)).isoformat())) == 4
    assert listed_ids(machine, updated_since=(timezone.now() + datetime.timedelta(hours=1)).isoformat()) == []
    # A replay of an upsert is no change: it does not come back in the next sync.
    after_sync = timezone.now()
    assert machine.put(by_ref("pdi-parte", "NEW-1"), numbered_case(1)).status_code == 200
    assert listed_ids(machine, updated_since=after_sync.isoformat()) == []


@pytest.fixture
def filtered_cases(institution, carabineros):
    open_2023 = CaseFactory(lead_institution=institution)
    closed_2022 = CaseFactory(
        lead_institution=institution,
        intake_date=datetime.date(2022, 5, 2),
        status="terminada",
        termination_type="condenatoria",
        termination_date=datetime.date(2024, 1, 10),
        investigation_start_date=datetime.date(2022, 5, 3),
        is_formalised=True,
        formalised_date=datetime.date(2022, 8, 1),
        purpose="trabajo_forzoso",
        region_detected="CL-AN",
    )
    suspended_2024 = CaseFactory(
        lead_institution=institution,
        intake_date=datetime.date(2024, 2, 2),
        status="suspendida",
        purpose="sin_informacion",
        region_detected="CL-AP",
    )
    # Another institution's case that matches every filter of closed_2022.
    CaseFactory(
        lead_institution=carabineros,
        intake_date=datetime.date(2022, 6, 2),
        status="terminada",
        termination_type="condenatoria",
        termination_date=datetime.date(2024, 1, 10),
        investigation_start_date=datetime.date(2022, 6, 3),
        is_formalised=True,
        formalised_date=datetime.date(2022, 8, 1),
        purpose="trabajo_forzoso",
        region_detected="CL-AN",
    )
    return {"open_2023": open_2023.pk, "closed_2022": closed_2022.pk, "suspended_2024": suspended_2024.pk}


FILTERS = [
    ({}, {"open_2023", "closed_2022", "suspended_2024"}),
    ({"status": "terminada"}, {"closed_2022"}),
    ({"status": "suspendida"}, {"suspended_2024"}),
    ({"year": 2022}, {"closed_2022"}),
    ({"year": 2023}, {"open_2023"}),
    ({"purpose": "trabajo_forzoso"}, {"closed_2022"}),
    ({"purpose": "explotacion_sexual"}, {"open_2023"}),
    ({"region": "CL-AN"}, {"closed_2022"}),
    ({"region": "CL-AP"}, {"suspended_2024"}),
    ({"formalised": "true"}, {"closed_2022"}),
    ({"formalised": "false"}, {"open_2023", "suspended_2024"}),
    ({"status": "terminada", "year": 2023}, set()),
    ({"status": "vigente", "formalised": "false", "purpose": "explotacion_sexual"}, {"open_2023"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "expected"), FILTERS, ids=[urlencode(p) or "none" for p, _ in FILTERS])
def test_each_filter_selects_its_cases_and_never_another_institutions(machine, filtered_cases, params, expected):
    assert sorted(listed_ids(machine, **params)) == sorted(filtered_cases[name] for name in expected)


BAD_FILTERS = [
    ("status", "cerrada"),
    ("year", "dosmil"),
    ("year", "1999"),
    ("purpose", "otra"),
    ("region", "CL-XX"),
    ("formalised", "quizas"),
    ("updated_since", "ayer"),
    ("updated_since", "2024-01-01T00:00:00"),  # no time zone
    ("page_size", "0"),
    ("page_size", "501"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "value"), BAD_FILTERS, ids=[f"{n}={v}" for n, v in BAD_FILTERS])
def test_a_bad_filter_value_is_refused_naming_the_filter(machine, name, value):
    assert_problem(machine.get(list_url(**{name: value})), 400, name)


@pytest.mark.django_db
def test_another_institutions_case_never_appears(machine, carabineros):
    theirs = CaseFactory(lead_institution=carabineros)
    mine = CaseFactory(lead_institution=machine.user.institution)

    everything = listed_ids(machine, page_size=500)
    since = listed_ids(machine, updated_since=(theirs.updated_at - datetime.timedelta(days=1)).isoformat())
    assert everything == since == [mine.pk]
    assert theirs.pk not in listed_ids(machine, year=2023, status="vigente", purpose="explotacion_sexual")
