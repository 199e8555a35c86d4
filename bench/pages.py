"""Server time of the busiest pages (issue 4, "Speed"), through the whole Django stack.

Each request goes through Django's test client in this process: every middleware (session,
second factor, CSP, audit context), the view, its queries and the template, exactly as
gunicorn would run them, minus the socket. Measured on the ``generate_dataset`` volume for the
case officer of the institution that sees the most cases:

- **case list**: the first page of Causas, default order, with the permission-aware count;
- **case list, filtered**: status + year filter sorted by RUC, and a region filter alone;
- **search**: by RUC and by pseudonymous victim code, and by document number (blind index);
- **case detail**: the summary tab of a case with ten victims, and its victims tab with the
  ten identities decrypted (the audited "mostrar identidad" of the whole tab).

Target: every page's 95th percentile under 60 ms.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

ITERATIONS = int(os.environ.get("BENCH_PAGE_ITERATIONS", "100"))
WARMUP = 10
TARGET_P95_MS = 60.0
VICTIMS_ON_DETAIL = 10


def _percentile(samples: list[float], percent: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


def _time(request: Callable[[], object], check: Callable[[object], None]) -> dict:
    check(request())  # the page answers what it should before it is timed
    samples = []
    for iteration in range(WARMUP + ITERATIONS):
        start = time.perf_counter()
        request()
        elapsed = time.perf_counter() - start
        if iteration >= WARMUP:
            samples.append(elapsed)
    p95 = _percentile(samples, 95) * 1000
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(p95, 2),
        "target_p95_ms": TARGET_P95_MS,
        "ratio_to_target": round(p95 / TARGET_P95_MS, 3),
        "meets_target": p95 < TARGET_P95_MS,
    }


def _signed_in_client(user):
    """A client with a session that passed both factors, as after a real sign-in."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="principal", defaults={"confirmed": True})
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _case_with_ten_victims(officer):
    """A case the officer's institution leads, topped up to ten victims with documents."""
    from cases.models import Case
    from kernel.choices import Sex
    from kernel.identity_documents import DocumentType, run_check_digit
    from victims.constants import AgeStatus
    from victims.models import CaseVictim
    from victims.services import victim_link_to_case, victim_register

    case = Case.objects.filter(lead_institution=officer.institution).order_by("id").first()
    existing = CaseVictim.objects.filter(case=case).count()
    for n in range(existing, VICTIMS_ON_DETAIL):
        body = 20_000_000 + case.pk % 1000 * 100 + n
        victim = victim_register(
            actor=None,
            institution=officer.institution,
            given_names="Persona",
            surnames=f"De Prueba {n}",
            document_type=DocumentType.RUN,
            document_number=f"{body}-{run_check_digit(body)}",
            sex=Sex.FEMALE,
            nationality="BO",
        )
        victim_link_to_case(actor=None, victim=victim, case=case, age_status=AgeStatus.KNOWN, age_at_facts=20 + n)
    return case


def run() -> dict:
    from django.urls import reverse

    from bench.case_list import pick_officers, settle_statistics
    from victims.models import Victim

    settle_statistics()
    _, officer, visible = pick_officers()[0]
    case = _case_with_ten_victims(officer)
    # Identity is encrypted, so the victim with a RUN is picked after decryption.
    victim = next(v for v in Victim.objects.filter(case_links__case=case).order_by("code") if v.document_type == "run")
    client = _signed_in_client(officer)
    list_url = reverse("cases:list")

    def ok(response) -> None:
        assert response.status_code == 200, response.status_code

    def ten_identities(response) -> None:
        ok(response)
        assert response.content.decode().count('class="identity"') == VICTIMS_ON_DETAIL

    def found(response) -> None:
        ok(response)
        assert f'href="/causas/{case.pk}/"' in response.content.decode()

    pages = {
        "case_list": (lambda: client.get(list_url), ok),
        "case_list_filtered_sorted": (
            lambda: client.get(list_url, {"estado": "vigente", "anio": "2019", "orden": "ruc"}),
            ok,
        ),
        "case_list_filtered_by_region": (lambda: client.get(list_url, {"region": case.region_detected}), ok),
        "search_by_ruc": (lambda: client.get(list_url, {"q": case.ruc or str(case.pk)}), ok),
        "search_by_victim_code": (lambda: client.get(list_url, {"q": victim.code}), ok),
        "search_by_document": (
            lambda: client.post(list_url, {"documento-tipo": "run", "documento-numero": victim.document_number}),
            found,
        ),
        "case_detail": (lambda: client.get(reverse("cases:detail", args=[case.pk])), ok),
        "case_victims_tab": (lambda: client.get(reverse("cases:victims", args=[case.pk])), ok),
        "case_victims_ten_identities_decrypted": (
            lambda: client.post(reverse("cases:victims_identity", args=[case.pk])),
            ten_identities,
        ),
    }
    results = {name: _time(request, check) for name, (request, check) in pages.items()}
    worst = max(result["p95_ms"] for result in results.values())
    return {
        "name": "pages",
        "officer": officer.username,
        "institution": officer.institution.short_name,
        "visible_cases": visible,
        "iterations": ITERATIONS,
        "warmup_iterations": WARMUP,
        "pages": results,
        "worst_p95_ms": worst,
        "target_p95_ms": TARGET_P95_MS,
        "ratio_to_target": round(worst / TARGET_P95_MS, 3),
        "meets_target": all(result["meets_target"] for result in results.values()),
    }
