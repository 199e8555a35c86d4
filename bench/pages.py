"""Server time of the busiest pages (issue 4, "Speed"), through the whole Django stack.

Each request goes through Django's test client in this process: every middleware (session,
second factor, CSP, audit context), the view, its queries and the template, exactly as
gunicorn would run them, minus the socket. Measured on the ``generate_dataset`` volume for the
case officer of the institution that sees the most cases:

- **case list**: the first page of Causas, default order, with the permission-aware count;
- **case list, filtered**: status + year filter, sorted by RUC;
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
