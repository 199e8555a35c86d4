"""The API for PDI and Fiscalía systems (issue 5, "Speed"), through the whole Django stack.

Every request goes through Django's test client in this process, as gunicorn would run it minus
the socket: every middleware, the OAuth2 bearer-token authentication (a real token obtained at
``/o/token/`` with the client credentials of a registered PDI client), scopes, rate limiting in
Redis, Idempotency-Key, DRF parsing and validation, the sync services and the JSON answer.
Every victim and offender carries ``identity`` (names, document, and for victims birth date and
phone), so identity is encrypted and documents are blind-indexed as in real ingest.

- **bulk**: ``POST /api/v1/cases/bulk`` with 100 new cases per request, each with 3 victims and
  2 offenders, a fresh ``Idempotency-Key`` each. Target: at least 200 cases per second, judged
  on the median request (``cases_per_second_median``), the aggregate over all requests beside it;
  ``ratio_to_target`` is target over measured rate, so above 1 is a miss as everywhere else.
- **upsert**: ``PUT /api/v1/cases/by-ref/pdi-parte/{ref}``, one case with 3 victims and 2
  offenders, in three kinds run alternately so that noise hits all alike: *create* (a reference
  never seen, 201), *replay* (the body the case already holds, 200 and nothing written) and
  *update* (the case's status, a victim's nationality, a victim's and an offender's part in the
  case changed: 200 and a new version).
  Target: every kind's 95th percentile under 100 ms.

Before each part the statistics of the tables involved are settled (VACUUM ANALYZE), the steady
state autovacuum reaches on a live server, as bench/case_list.py does: on tables just filled
and never analysed, the planner takes them for empty and ``victim_identity_allowed`` reads every
grant of the institution per victim (tens of ms each, growing with the data).

The rate limits stay on (their Redis round trips are part of every request), but the client's
counters are reset between requests, outside the timed part, so a long run is never throttled.
``python -m bench api`` runs this alone on a fresh bench database (no generated data set);
``BENCH_API_BULK_REQUESTS`` (default 10, after 2 warm-up requests) and
``BENCH_API_UPSERT_ITERATIONS`` (default 100 of each kind, after 10 warm-up rounds) set the
repetitions. Each part also reports its queries (how they grow per case for bulk, per kind for
upserts) and the machine's load average before and after, since the machine may be shared.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import statistics
import time
import uuid

BULK_CASES_PER_REQUEST = 100
VICTIMS_PER_CASE = 3
OFFENDERS_PER_CASE = 2
BULK_REQUESTS = int(os.environ.get("BENCH_API_BULK_REQUESTS", "10"))
BULK_WARMUP = 2
UPSERT_ITERATIONS = int(os.environ.get("BENCH_API_UPSERT_ITERATIONS", "100"))
UPSERT_WARMUP = 10
TARGET_CASES_PER_SECOND = 200.0
TARGET_UPSERT_P95_MS = 100.0
SOURCE = "pdi-parte"
SCOPES = ["cases:read", "cases:write", "identity:read", "identity:write"]
BULK_URL = "/api/v1/cases/bulk"

# Every run's references differ, so the bench never meets what an earlier run left behind.
_RUN = uuid.uuid4().hex[:8]
_serial = itertools.count(1)
_documents = itertools.count(int(time.time()) % 1_000_000 * 100)


class QueryCounter:
    """Counts the statements sent to the database (all of them: the debug query log of
    CaptureQueriesContext keeps only the last 9,000, fewer than a bulk request of 100 sends)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        return self._wrapper.__exit__(*exc)


def _percentile(samples: list[float], percent: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# --- request bodies ----------------------------------------------------------------------------


def _run_number(body: int) -> str:
    from kernel.identity_documents import run_check_digit

    return f"{body:,}".replace(",", ".") + f"-{run_check_digit(body)}"


def _victim(ref: str, n: int) -> dict:
    document = next(_documents)
    return {
        "external_id": f"{ref}-v{n}",
        "sex": ("femenino", "masculino", "sin_informacion")[n % 3],
        "nationality": ("VE", "BO", "CO")[n % 3],
        "birth_year": 1990 + n,
        "age_status": "conocida",
        "age_at_facts": 25 + n,
        "purpose": "explotacion_sexual",
        "region_detected": "CL-TA",
        "identified_date": "2025-03-0" + str(n + 1),
        "identity": {
            "given_names": f"María José {n}",
            "surnames": "Pérez Quispe",
            "document_type": "pasaporte",
            "document_number": f"P{document:09d}",
            "birth_date": f"{1990 + n}-05-17",
            "phone": f"+56 9 {document % 100_000_000:08d}",
        },
    }


def _offender(ref: str, n: int) -> dict:
    document = next(_documents)
    return {
        "external_id": f"{ref}-i{n}",
        "sex": "masculino",
        "nationality": "CL",
        "is_formalised": n == 0,
        "is_convicted": False,
        "identity": {
            "given_names": f"Juan {n}",
            "surnames": "Soto Díaz",
            "document_type": "run",
            "document_number": _run_number(10_000_000 + document % 15_000_000),
        },
    }


def _case(ref: str) -> dict:
    return {
        "intake_date": "2025-03-01",
        "investigation_start_date": "2025-03-02",
        "status": "vigente",
        "purpose": "explotacion_sexual",
        "region_detected": "CL-TA",
        "fiscalia_regional": "FR-TA",
        "victims": [_victim(ref, n) for n in range(VICTIMS_PER_CASE)],
        "offenders": [_offender(ref, n) for n in range(OFFENDERS_PER_CASE)],
    }


def _new_reference() -> str:
    return f"BENCH-{_RUN}-{next(_serial):07d}"


def _updated(body: dict) -> dict:
    """The same case with its status, one victim's record (nationality), one victim's part in
    the case (age at the facts) and one offender's part (convicted, with a date) changed."""
    changed = json.loads(json.dumps(body))
    changed["status"] = "suspendida"
    changed["victims"][0]["age_at_facts"] = 40
    changed["victims"][1]["nationality"] = "PE"
    changed["offenders"][1]["is_convicted"] = True
    changed["offenders"][1]["sentence_date"] = "2025-09-01"
    return changed


# --- the machine client ------------------------------------------------------------------------


class Machine:
    """A registered PDI client with a real bearer token, sending JSON through the test client."""

    def __init__(self, institution) -> None:
        from django.core.cache import cache
        from django.test import Client
        from rest_framework.throttling import SimpleRateThrottle

        from api.services import api_client_create

        new = api_client_create(
            institution=institution, name="Banco de pruebas", scopes=SCOPES, sources=["pdi-parte", "fiscalia-ruc"]
        )
        self.http = Client(SERVER_NAME="127.0.0.1")
        basic = base64.b64encode(f"{new.client.client_id}:{new.client_secret}".encode()).decode()
        response = self.http.post(
            "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}"
        )
        assert response.status_code == 200, response.content
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access_token']}"}
        self._cache = cache
        self._throttle_keys = [
            SimpleRateThrottle.cache_format % {"scope": scope, "ident": f"client-{new.client.pk}"}
            for scope in ("client", "bulk")
        ]

    def reset_rate_limits(self) -> None:
        self._cache.delete_many(self._throttle_keys)

    def put(self, path: str, body: str):
        return self.http.put(path, body, content_type="application/json", **self.auth)

    def post(self, path: str, body: str, key: str):
        return self.http.post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **self.auth)


# What the API reads and writes: their statistics settled as autovacuum would leave them on a
# live server. On tables that were just filled, the planner otherwise still believes them
# empty and picks nested loops that read every grant of the institution (see the module doc).
TABLES = (
    "cases_case",
    "cases_caseexternalreference",
    "cases_casegroupobjectpermission",
    "cases_caseoffender",
    "cases_offender",
    "cases_offenderexternalreference",
    "cases_caseshare",
    "victims_victim",
    "victims_victimexternalreference",
    "victims_casevictim",
    "api_idempotencyrecord",
)


def settle_statistics() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")


def _pdi():
    from institutions.models import Institution

    institution = Institution.objects.filter(short_name="PDI").first()
    if institution is None:
        from bench.dataset import mitp_institutions

        mitp_institutions()
        institution = Institution.objects.get(short_name="PDI")
    return institution


# --- bulk --------------------------------------------------------------------------------------


def _bulk_items(count: int) -> list[dict]:
    return [{"source": SOURCE, "reference": (ref := _new_reference()), "case": _case(ref)} for _ in range(count)]


def _bulk_body() -> str:
    return json.dumps({"items": _bulk_items(BULK_CASES_PER_REQUEST)})


def _bulk_post(machine: Machine, body: str) -> tuple[float, float]:
    """Wall-clock and this process's CPU seconds of one bulk request of new cases."""
    key = str(uuid.uuid4())
    machine.reset_rate_limits()
    cpu = time.process_time()
    start = time.perf_counter()
    response = machine.post(BULK_URL, body, key)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    assert response.status_code == 200, response.content[:2000]
    answer = response.json()
    assert answer["succeeded"] == BULK_CASES_PER_REQUEST and answer["failed"] == 0, answer["results"][:3]
    assert all(result["created"] for result in answer["results"])
    return elapsed, cpu


def _bulk_queries(machine: Machine) -> dict:
    """Queries of one bulk request, and how they grow per case (a request of 10 and one of 100)."""
    counts = {}
    for size in (10, BULK_CASES_PER_REQUEST):
        body = json.dumps({"items": _bulk_items(size)})
        machine.reset_rate_limits()
        with QueryCounter() as queries:
            response = machine.post(BULK_URL, body, str(uuid.uuid4()))
        assert response.status_code == 200 and response.json()["failed"] == 0
        counts[size] = queries.count
    small, large = counts[10], counts[BULK_CASES_PER_REQUEST]
    per_case = (large - small) / (BULK_CASES_PER_REQUEST - 10)
    return {
        "queries_per_request_of_10": small,
        f"queries_per_request_of_{BULK_CASES_PER_REQUEST}": large,
        "queries_per_case": round(per_case, 1),
        "queries_fixed_per_request": round(large - per_case * BULK_CASES_PER_REQUEST, 1),
    }


def run_bulk(machine: Machine) -> dict:
    bodies = [_bulk_body() for _ in range(BULK_WARMUP + BULK_REQUESTS)]  # built before the clock runs
    load_before = os.getloadavg()[0]
    samples, cpu = [], []
    for index, body in enumerate(bodies):
        elapsed, cpu_seconds = _bulk_post(machine, body)
        if index >= BULK_WARMUP:
            samples.append(elapsed)
            cpu.append(cpu_seconds)
    load_after = os.getloadavg()[0]
    rates = [BULK_CASES_PER_REQUEST / seconds for seconds in samples]
    median_rate = statistics.median(rates)
    return {
        "name": "api_bulk_ingest",
        "cases_per_request": BULK_CASES_PER_REQUEST,
        "victims_per_case": VICTIMS_PER_CASE,
        "offenders_per_case": OFFENDERS_PER_CASE,
        "identity_sent_for_every_person": True,
        "requests": BULK_REQUESTS,
        "warmup_requests": BULK_WARMUP,
        "seconds_per_request_median": round(statistics.median(samples), 3),
        "seconds_per_request_max": round(max(samples), 3),
        "cases_per_second_median": round(median_rate, 1),
        "cases_per_second_worst": round(min(rates), 1),
        "cases_per_second_aggregate": round(BULK_CASES_PER_REQUEST * len(samples) / sum(samples), 1),
        "people_per_second_median": round(median_rate * (VICTIMS_PER_CASE + OFFENDERS_PER_CASE), 1),
        "app_cpu_seconds_per_request_median": round(statistics.median(cpu), 3),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        **_bulk_queries(machine),
        "target_cases_per_second": TARGET_CASES_PER_SECOND,
        "ratio_to_target": round(TARGET_CASES_PER_SECOND / median_rate, 3),
        "meets_target": median_rate >= TARGET_CASES_PER_SECOND,
    }


# --- single upserts ----------------------------------------------------------------------------


def _upsert_url(ref: str) -> str:
    return f"/api/v1/cases/by-ref/{SOURCE}/{ref}"


def _put(machine: Machine, ref: str, body: str, expected_status: int) -> tuple[float, object]:
    machine.reset_rate_limits()
    start = time.perf_counter()
    response = machine.put(_upsert_url(ref), body)
    elapsed = time.perf_counter() - start
    assert response.status_code == expected_status, (response.status_code, response.content[:2000])
    return elapsed, response


def _upsert_queries(machine: Machine) -> dict:
    ref = _new_reference()
    body = _case(ref)
    counts = {}
    for kind, payload, expected in (
        ("create", body, 201),
        ("replay", body, 200),
        ("update", _updated(body), 200),
    ):
        machine.reset_rate_limits()
        with QueryCounter() as queries:
            response = machine.put(_upsert_url(ref), json.dumps(payload))
        assert response.status_code == expected, response.content[:2000]
        counts[kind] = queries.count
    return counts


def _summary(samples: list[float]) -> dict:
    p95 = _percentile(samples, 95) * 1000
    return {
        "p50_ms": _ms(statistics.median(samples)),
        "p95_ms": round(p95, 2),
        "max_ms": _ms(max(samples)),
        "target_p95_ms": TARGET_UPSERT_P95_MS,
        "ratio_to_target": round(p95 / TARGET_UPSERT_P95_MS, 3),
        "meets_target": p95 < TARGET_UPSERT_P95_MS,
    }


def run_upsert(machine: Machine) -> dict:
    samples: dict[str, list[float]] = {"create": [], "replay": [], "update": []}
    load_before = os.getloadavg()[0]
    for iteration in range(UPSERT_WARMUP + UPSERT_ITERATIONS):
        ref = _new_reference()
        body = _case(ref)
        created = json.dumps(body)
        updated = json.dumps(_updated(body))
        timed = {}
        timed["create"], response = _put(machine, ref, created, 201)
        version = response.json()["version"]
        # Replay and update alternate which goes first, so neither always follows the create.
        for kind in ("replay", "update") if iteration % 2 else ("update", "replay"):
            if kind == "replay":
                timed["replay"], response = _put(machine, ref, updated if iteration % 2 == 0 else created, 200)
                assert response.json()["version"] == version, "a replay must write nothing"
            else:
                timed["update"], response = _put(machine, ref, updated, 200)
                assert response.json()["version"] == version + 1, "an update moves the version on once"
                version += 1
        if iteration >= UPSERT_WARMUP:
            for kind, seconds in timed.items():
                samples[kind].append(seconds)
    load_after = os.getloadavg()[0]
    kinds = {kind: _summary(values) for kind, values in samples.items()}
    everything = _summary([seconds for values in samples.values() for seconds in values])
    return {
        "name": "api_upsert",
        "url": _upsert_url("{ref}"),
        "victims_per_case": VICTIMS_PER_CASE,
        "offenders_per_case": OFFENDERS_PER_CASE,
        "iterations_per_kind": UPSERT_ITERATIONS,
        "warmup_iterations": UPSERT_WARMUP,
        "kinds": kinds,
        "queries_per_request": _upsert_queries(machine),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "all_kinds_p50_ms": everything["p50_ms"],
        "all_kinds_p95_ms": everything["p95_ms"],
        "worst_p95_ms": max(result["p95_ms"] for result in kinds.values()),
        "target_p95_ms": TARGET_UPSERT_P95_MS,
        "ratio_to_target": round(max(result["p95_ms"] for result in kinds.values()) / TARGET_UPSERT_P95_MS, 3),
        "meets_target": all(result["meets_target"] for result in kinds.values()),
    }


def run() -> list[dict]:
    machine = Machine(_pdi())
    settle_statistics()
    bulk = run_bulk(machine)
    settle_statistics()  # the bulk run added thousands of rows
    return [bulk, run_upsert(machine)]
