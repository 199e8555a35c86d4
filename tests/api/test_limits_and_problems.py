"""Limits of the API (body size, rate per client) and the problem+json answers for requests the
API cannot serve: wrong media type, wrong method, unknown URL."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from api.base import ONE_MIB
from api.models import ApiClient, IdempotencyRecord
from api.throttling import ClientRateThrottle
from cases.apis import CaseBulkApi
from cases.models import Case
from tests.api.conftest import machine_for, obtain_token
from tests.factories import CaseFactory, InstitutionFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
CASES = reverse("api:case_list")
BULK = reverse("api:case_bulk")


def by_ref(reference: str = "PARTE-1") -> str:
    return reverse("api:case_by_ref", kwargs={"source": "pdi-parte", "reference": reference})


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    return body


def padded(document: dict, size: int) -> str:
    """``document`` as JSON, padded with trailing whitespace (still valid JSON) to ``size`` bytes."""
    text = json.dumps(document)
    assert len(text) <= size
    return text + " " * (size - len(text))


# --- body size ----------------------------------------------------------------------------------

CASE_BODY = {"intake_date": "2024-01-10"}


def test_a_body_over_one_mib_on_put_by_ref_is_a_413_problem_and_saves_nothing(machine):
    body = padded(CASE_BODY, ONE_MIB + 1)
    response = machine.http.put(by_ref(), body, content_type="application/json", **machine.headers())
    problem = assert_problem(response, 413)
    assert problem["title"] == "La solicitud es demasiado grande"
    assert not Case.objects.exists()


def test_a_body_of_exactly_one_mib_on_put_by_ref_is_accepted(machine):
    """The control: the same document, one byte smaller, creates the case."""
    body = padded(CASE_BODY, ONE_MIB)
    response = machine.http.put(by_ref(), body, content_type="application/json", **machine.headers())
    assert response.status_code == 201, response.content[:500]
    assert Case.objects.count() == 1


def test_the_declared_content_length_is_enough_to_refuse(machine):
    response = machine.http.put(
        by_ref(),
        json.dumps(CASE_BODY),
        content_type="application/json",
        **machine.headers(CONTENT_LENGTH=str(2 * ONE_MIB)),
    )
    assert_problem(response, 413)
    assert not Case.objects.exists()


def test_a_body_too_large_is_refused_before_authentication(db):
    response = Client().put(by_ref(), padded(CASE_BODY, ONE_MIB + 1), content_type="application/json")
    assert_problem(response, 413)


def test_a_body_over_one_mib_on_patch_is_a_413_problem(machine, institution):
    case = CaseFactory(lead_institution=institution)
    path = reverse("api:case_detail", args=[case.pk])
    response = machine.http.patch(
        path, padded({"intake_date": "2024-02-02"}, ONE_MIB + 1), content_type="application/json", **machine.headers()
    )
    assert_problem(response, 413)
    case.refresh_from_db()
    assert str(case.intake_date) == "2023-03-01"


def test_bulk_has_its_own_larger_limit(machine):
    assert CaseBulkApi.max_body_bytes == 16 * ONE_MIB
    document = {"items": [{"source": "pdi-parte", "reference": "PARTE-1", "case": CASE_BODY}]}
    headers = machine.headers(HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    accepted = machine.http.post(BULK, padded(document, 2 * ONE_MIB), content_type="application/json", **headers)
    assert accepted.status_code == 200, accepted.content[:500]
    assert Case.objects.count() == 1

    headers = machine.headers(HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    document["items"][0]["reference"] = "PARTE-2"
    refused = machine.http.post(BULK, padded(document, 16 * ONE_MIB + 1), content_type="application/json", **headers)
    assert_problem(refused, 413)
    assert Case.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


# --- rate limits --------------------------------------------------------------------------------


@pytest.fixture
def rates(monkeypatch):
    """Set the per-client rates. DRF reads DEFAULT_THROTTLE_RATES once, at import, into the
    class attribute THROTTLE_RATES, so override_settings would not reach it."""

    def set_rates(client: str = "1000/min", bulk: str = "1000/min") -> None:
        monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": client, "bulk": bulk})

    return set_rates


def test_the_call_over_the_rate_is_a_429_problem_with_retry_after(institution, rates):
    rates(client="3/min")
    machine = machine_for(institution)
    for _ in range(3):
        assert machine.get(CASES).status_code == 200
    response = machine.get(CASES)
    problem = assert_problem(response, 429)
    assert problem["title"] == "Demasiadas solicitudes"
    assert 0 < int(response["Retry-After"]) <= 60


def test_the_counters_live_in_the_shared_cache_per_client(institution, rates):
    rates(client="3/min")
    machine = machine_for(institution)
    for _ in range(2):
        machine.get(CASES)
    application = ApiClient.objects.get(client_id=machine.client_id)
    # One atomic counter per client and one-minute window (api.throttling); the two requests may
    # straddle a window's end, so both windows around now are summed.
    now = int(time.time())
    windows = {now - now % 60, (now - 60) - (now - 60) % 60}
    counts = [cache.get(f"throttle_client_client-{application.pk}:{start}") or 0 for start in windows]
    assert sum(counts) == 2


def test_the_limit_is_per_client(institution, rates):
    rates(client="3/min")
    busy = machine_for(institution, name="Ocupado")
    calm = machine_for(institution, name="Tranquilo")
    elsewhere = machine_for(InstitutionFactory(short_name="CARAB"), name="Otra")
    for _ in range(3):
        busy.get(CASES)
    assert_problem(busy.get(CASES), 429)
    assert calm.get(CASES).status_code == 200
    assert elsewhere.get(CASES).status_code == 200


def test_a_new_token_does_not_reset_the_clients_limit(institution, rates):
    rates(client="3/min")
    machine = machine_for(institution)
    for _ in range(3):
        machine.get(CASES)
    token = obtain_token(Client(), machine.client_id, machine.client_secret).json()["access_token"]
    assert token != machine.token
    assert_problem(Client().get(CASES, HTTP_AUTHORIZATION=f"Bearer {token}"), 429)


def test_bulk_has_its_own_smaller_budget_and_a_refused_bulk_does_nothing(institution, rates):
    rates(client="100/min", bulk="2/min")
    machine = machine_for(institution)
    for n in range(2):
        body = {"items": [{"source": "pdi-parte", "reference": f"PARTE-{n}", "case": CASE_BODY}]}
        assert machine.post(BULK, body, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())).status_code == 200
    body = {"items": [{"source": "pdi-parte", "reference": "PARTE-9", "case": CASE_BODY}]}
    response = machine.post(BULK, body, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert_problem(response, 429)
    assert response.has_header("Retry-After")
    assert Case.objects.count() == 2 and IdempotencyRecord.objects.count() == 2
    assert machine.get(CASES).status_code == 200  # single calls keep their own budget


# --- media type, method, URL --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body"),
    [
        ("put", by_ref(), "text/plain", "intake_date=2024-01-10"),
        ("put", by_ref(), "application/x-www-form-urlencoded", "intake_date=2024-01-10"),
        ("post", BULK, "application/xml", "<items/>"),
        ("post", BULK, "application/x-www-form-urlencoded", "items=1"),
    ],
    ids=["put-text", "put-form", "bulk-xml", "bulk-form"],
)
def test_a_body_that_is_not_json_is_a_415_problem(machine, method, path, content_type, body):
    headers = machine.headers(HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    response = getattr(machine.http, method)(path, body, content_type=content_type, **headers)
    problem = assert_problem(response, 415)
    assert problem["title"] == "Tipo de contenido no admitido"
    assert not Case.objects.exists() and not IdempotencyRecord.objects.exists()


def test_malformed_json_is_a_400_problem(machine):
    response = machine.http.put(by_ref(), '{"intake_date": ', content_type="application/json", **machine.headers())
    assert_problem(response, 400)
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body"),
    [
        ("put", by_ref(), "text/plain", "intake_date=2024-01-10"),
        ("put", by_ref(), "application/json", '{"intake_date": '),
        ("post", BULK, "application/xml", "<items/>"),
    ],
    ids=["put-text", "put-malformed-json", "bulk-xml"],
)
def test_without_a_token_the_body_is_not_looked_at(db, method, path, content_type, body):
    """An anonymous caller learns nothing about how its body would be read, and costs no parsing:
    the answer is 401, as for any request without a token."""
    response = getattr(Client(), method)(path, body, content_type=content_type)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", CASES),
        ("put", CASES),
        ("post", CASES),
        ("delete", by_ref()),
        ("post", by_ref()),
        ("get", BULK),
        ("PURGE", CASES),
    ],
    ids=["delete-list", "put-list", "post-list", "delete-by-ref", "post-by-ref", "get-bulk", "purge-list"],
)
def test_a_method_the_route_does_not_have_is_a_405_problem(machine, method, path):
    if method in ("put", "post"):
        response = getattr(machine, method)(path, {})
    elif method == "PURGE":
        response = machine.http.generic("PURGE", path, **machine.headers())
    else:
        response = getattr(machine.http, method)(path, **machine.headers())
    problem = assert_problem(response, 405)
    assert problem["title"] == "Método no permitido"
    assert "Allow" in response


def test_head_is_answered_like_get(machine):
    get = machine.get(CASES)
    head = machine.http.head(CASES, **machine.headers())
    assert get.status_code == 200
    assert head.status_code == 200
    assert head.content == b""


@pytest.mark.parametrize(
    "path",
    ["/api/v1/no-existe/", "/api/v1/cases/abc/", "/api/v1/cases/by-ref/sistema-x/PARTE-1", "/api/v2/cases/"],
    ids=["unknown", "bad-id", "unknown-source", "other-version"],
)
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "anonymous"])
def test_an_unknown_api_url_is_a_404_problem(machine, path, with_token):
    http = machine.http if with_token else Client()
    headers = machine.headers() if with_token else {}
    problem = assert_problem(http.get(path, **headers), 404)
    assert problem["title"] == "Recurso no encontrado"


def test_a_case_that_does_not_exist_is_a_404_problem(machine):
    assert_problem(machine.get(reverse("api:case_detail", args=[999_999])), 404)


def test_an_unknown_page_outside_the_api_stays_a_web_page(db):
    response = Client().get("/no-existe/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("since", "status"),
    [
        ("6027-12-05T18:26:57.76542%2B19:22", 200),  # an offset ISO 8601 allows and PostgreSQL does not
        ("2024-05-01T00:00:00%2B15:30", 200),
        ("9999-12-31T23:59:59-05:00", 400),  # past year 9999 once in UTC
        ("0001-01-01T00:00:00%2B05:00", 400),  # before year 1 once in UTC
        ("2024-13-01T00:00:00Z", 400),
    ],
)
def test_updated_since_at_the_edges_of_time_is_an_answer_never_a_server_error(machine, since, status):
    response = machine.get(f"/api/v1/cases/?updated_since={since}")
    assert response.status_code == status, response.content
    if status == 400:
        assert response.json()["errors"][0]["field"] == "updated_since"


@pytest.mark.django_db(transaction=True)
def test_parallel_requests_never_exceed_the_clients_limit(institution, rates):
    # DRF's throttle reads and writes back a list: parallel requests overwrote each other's
    # counts. The counter is now an atomic INCR.
    import threading

    from django.db import connection
    from django.test import Client

    rates(client="10/min")
    machine = machine_for(institution)
    barrier, statuses = threading.Barrier(8), []

    def calls():
        http = Client()
        barrier.wait()
        for _ in range(5):
            statuses.append(http.get(CASES, HTTP_AUTHORIZATION=f"Bearer {machine.token}").status_code)
        connection.close()

    threads = [threading.Thread(target=calls) for _ in range(8)]
    started = int(time.time()) // 60
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    same_window = int(time.time()) // 60 == started
    assert len(statuses) == 40 and set(statuses) <= {200, 429}
    # Exactly the budget within one window (twice it, at most, if a window ended mid-run).
    assert statuses.count(200) == 10 if same_window else statuses.count(200) <= 20
