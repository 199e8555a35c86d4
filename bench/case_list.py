"""One officer's case list (issue 3, "Speed"): a page of 25 visible cases plus their total count.

Measured on the ``generate_dataset`` volume the dataset benchmark leaves behind, for officers
of three institutions (the one that sees the most cases, a median one, and one that sees few):

- **app**: what the list page runs, ``cases.selectors.case_list(user=...)`` ordered by
  ``-updated_at, -id``, sliced to a page, each case serialised to the fields a list page shows
  (the lead institution's short name included), plus ``.count()``;
- **raw**: the same page and count written by hand as SQL over the grant table, the best this
  database can do, through the same connection.

Both run alternately in one loop, so whatever slows the machine down slows both. The target:
the app's 95th percentile is under 20 ms and at most twice the raw one, and the number of
queries a page takes does not grow with the page size.
"""

from __future__ import annotations

import os
import statistics
import time

ITERATIONS = int(os.environ.get("BENCH_CASE_LIST_ITERATIONS", "200"))
WARMUP = 20
PAGE_SIZE = 25
QUERY_COUNT_PAGE_SIZES = (10, 25, 100)
TARGET_P95_MS = 20.0
TARGET_RATIO_TO_RAW = 2.0

# The hand-written page and count: start from the institution's group in the grant table
# (index on group, permission, case), join the page's cases and their lead institution.
RAW_PAGE_SQL = """
    SELECT c.id, c.ruc, c.intake_date, c.status, c.purpose, i.short_name, c.updated_at
    FROM cases_casegroupobjectpermission g
    JOIN cases_case c ON c.id = g.content_object_id
    JOIN institutions_institution i ON i.id = c.lead_institution_id
    WHERE g.group_id = %s AND g.permission_id = %s
    ORDER BY c.updated_at DESC, c.id DESC
    LIMIT %s
"""
RAW_COUNT_SQL = "SELECT count(*) FROM cases_casegroupobjectpermission WHERE group_id = %s AND permission_id = %s"
TABLES = ("cases_case", "cases_casegroupobjectpermission", "institutions_institution", "auth_group")


def _app_page(user, size: int) -> tuple[list[dict], int]:
    from cases.selectors import case_list_page

    result = case_list_page(user=user, number=1, size=size)
    page = [
        {
            "id": case.id,
            "ruc": case.ruc,
            "intake_date": case.intake_date,
            "status": case.status,
            "purpose": case.purpose,
            "lead_institution": case.lead_short_name,
            "updated_at": case.updated_at,
        }
        for case in result.object_list
    ]
    return page, result.paginator.count


def _raw_page(group_id: int, permission_id: int, size: int) -> tuple[list[dict], int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(RAW_PAGE_SQL, [group_id, permission_id, size])
        page = [
            {
                "id": row[0],
                "ruc": row[1],
                "intake_date": row[2],
                "status": row[3],
                "purpose": row[4],
                "lead_institution": row[5],
                "updated_at": row[6],
            }
            for row in cursor.fetchall()
        ]
        cursor.execute(RAW_COUNT_SQL, [group_id, permission_id])
        (count,) = cursor.fetchone()
    return page, count


def _percentile(samples: list[float], percent: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def settle_statistics() -> None:
    """VACUUM ANALYZE the tables the list reads: the steady state autovacuum would reach on a
    live server (fresh statistics, a visibility map that allows index-only scans)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")


def pick_officers() -> list[tuple[str, object, int]]:
    """(label, officer, visible cases) for the institutions that see the most, a median number,
    and the fewest cases (among those that see any)."""
    from django.db.models import Count

    from cases.access import permission_id
    from cases.constants import CasePermission
    from cases.models import CaseGroupObjectPermission
    from institutions.constants import Role
    from institutions.models import User

    visible = list(
        CaseGroupObjectPermission.objects.filter(permission_id=permission_id(CasePermission.VIEW))
        .values_list("group__institution__id")
        .annotate(n=Count("id"))
        .order_by("-n", "group__institution__id")
    )
    picks = {"most": visible[0], "median": visible[len(visible) // 2], "fewest": visible[-1]}
    officers = []
    for label, (institution_id, count) in picks.items():
        officer = (
            User.objects.select_related("institution")
            .filter(institution_id=institution_id, role=Role.CASE_OFFICER, is_active=True)
            .order_by("id")
            .first()
        )
        if officer is None:
            raise RuntimeError(f"No active case officer in institution {institution_id}: run generate_dataset.")
        officers.append((label, officer, count))
    return officers


def queries_per_page(user) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for size in QUERY_COUNT_PAGE_SIZES:
        with CaptureQueriesContext(connection) as queries:
            page, _ = _app_page(user, size)
        assert len(page) <= size
        counts[str(size)] = len(queries.captured_queries)
    return counts


def measure(user, visible: int) -> dict:
    from cases.access import permission_id
    from cases.constants import CasePermission

    group_id = user.institution.group_id
    view_id = permission_id(CasePermission.VIEW)
    app_page, app_count = _app_page(user, PAGE_SIZE)
    raw_page, raw_count = _raw_page(group_id, view_id, PAGE_SIZE)
    # Both must answer the same question, or the comparison means nothing.
    assert app_page == raw_page and app_count == raw_count == visible, (app_count, raw_count, visible)

    app: list[float] = []
    raw: list[float] = []
    for iteration in range(WARMUP + ITERATIONS):
        order = ("app", "raw") if iteration % 2 else ("raw", "app")  # neither always goes first
        for which in order:
            start = time.perf_counter()
            if which == "app":
                _app_page(user, PAGE_SIZE)
            else:
                _raw_page(group_id, view_id, PAGE_SIZE)
            elapsed = time.perf_counter() - start
            if iteration >= WARMUP:
                (app if which == "app" else raw).append(elapsed)

    app_p95, raw_p95 = _percentile(app, 95), _percentile(raw, 95)
    ratio = app_p95 / raw_p95
    return {
        "institution": user.institution.short_name,
        "officer": user.username,
        "visible_cases": app_count,
        "app_p50_ms": _ms(statistics.median(app)),
        "app_p95_ms": _ms(app_p95),
        "raw_p50_ms": _ms(statistics.median(raw)),
        "raw_p95_ms": _ms(raw_p95),
        "ratio_p95_app_to_raw": round(ratio, 2),
        "meets_target": app_p95 * 1000 < TARGET_P95_MS and ratio <= TARGET_RATIO_TO_RAW,
    }


def run() -> dict:
    settle_statistics()
    officers = pick_officers()
    results = []
    for label, officer, visible in officers:
        result = measure(officer, visible)
        result["queries_per_page"] = queries_per_page(officer)
        results.append({"picked_as": label, **result})
    queries_constant = all(len(set(r["queries_per_page"].values())) == 1 for r in results)
    worst_p95 = max(r["app_p95_ms"] for r in results)
    return {
        "name": "case_list",
        "page_size": PAGE_SIZE,
        "iterations": ITERATIONS,
        "warmup_iterations": WARMUP,
        "officers": results,
        "queries_per_page_constant": queries_constant,
        "worst_app_p95_ms": worst_p95,
        "worst_ratio_p95_app_to_raw": max(r["ratio_p95_app_to_raw"] for r in results),
        "target_p95_ms": TARGET_P95_MS,
        "target_ratio_p95_app_to_raw": TARGET_RATIO_TO_RAW,
        "ratio_to_target": round(worst_p95 / TARGET_P95_MS, 3),
        "meets_target": queries_constant and all(r["meets_target"] for r in results),
    }
