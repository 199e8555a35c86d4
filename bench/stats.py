"""The MITP tables (issue 7, "Speed and memory") on the generated data set.

``stats.tables.compute_tables(year_from=2011, year_to=2023)`` for the three registers (every
family, 1 to 12) against the same counts written as raw SQL by hand (bench/stats_sql.py: one
statement per register, each earliest link per person computed once with a window function)
and run through a bare cursor in the same process. Before timing, the two are compared table
by table: any count that differs fails the benchmark loudly (AssertionError), so the ratio
compares like with like.

Times: one warm-up run of each, then ``BENCH_STATS_RUNS`` (default 3) runs of each, alternated
so that noise hits both alike; the median of each. Targets: ORM median at most 3 times the raw median, and the
ORM computation's peak memory under 300 MB. Memory is measured in a run of its own (tracing
slows Python down, so it is never timed): ``tracemalloc`` peak of the Python heap during one
``compute_tables`` call (what the target judges: allocations of that computation, from a
baseline taken just before), and, beside it for reference, the growth of the process's
``ru_maxrss`` over the whole benchmark (coarse: a high-water mark, zero when an earlier
benchmark already reached it; it includes the driver's C buffers, which tracemalloc does not
see).

The protocol register: ``generate_dataset`` makes no protocol activations, so before measuring,
a database that has none gets them (:func:`seed_protocol_entries`, one INSERT … SELECT each, in
PostgreSQL): about one victim in ten entered the protocol some weeks after their first case, one
in fifty of them had entered a year before too (a re-entry), and one in a hundred asked and was
refused (not an entry). So family 12 is measured on some 25,000 entries, not on nothing.

``python -m bench.stats`` runs this alone on ``DATABASE_URL`` (no bench database is created; it
writes only those protocol entries, if there are none, and ANALYZE), for a data set generated
elsewhere.
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import sys
import time
import tracemalloc

YEAR_FROM, YEAR_TO = 2011, 2023
RUNS = int(os.environ.get("BENCH_STATS_RUNS", "3"))
TARGET_RATIO_TO_RAW = 3.0
TARGET_PEAK_MB = 300.0
TABLES = (
    "cases_case",
    "victims_casevictim",
    "victims_victim",
    "cases_caseoffender",
    "cases_offender",
    "protocol_protocolactivation",
    "protocol_protocoltransition",
)


# Deterministic choice of victims by a hash of their id (%% is a literal % for the driver).
PROTOCOL_SEED_SQL = """
CREATE TEMPORARY TABLE bench_protocol_people ON COMMIT DROP AS
SELECT v.id AS victim_id, v.registering_institution_id AS institution_id,
       least(min(c.intake_date) + 20, date '2023-12-31') AS requested_on,
       abs(('x' || substr(md5(v.id::text), 1, 8))::bit(32)::int) %% 100 AS bucket
FROM victims_victim v
JOIN victims_casevictim cv ON cv.victim_id = v.id
JOIN cases_case c ON c.id = cv.case_id
GROUP BY v.id;

CREATE TEMPORARY TABLE bench_protocol_entries ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, victim_id, institution_id, requested_on, 'activa' AS state
FROM bench_protocol_people WHERE bucket < 10
UNION ALL
SELECT gen_random_uuid(), victim_id, institution_id, requested_on - 400, 'cerrada'
FROM bench_protocol_people WHERE bucket < 10 AND requested_on - 400 >= date '2011-01-01'
  AND abs(('x' || substr(md5(victim_id::text || 'again'), 1, 8))::bit(32)::int) %% 50 = 0
UNION ALL
SELECT gen_random_uuid(), victim_id, institution_id, requested_on, 'rechazada'
FROM bench_protocol_people WHERE bucket = 10;

INSERT INTO protocol_protocolactivation (
    id, created_at, updated_at, victim_id, institution_id, requested_by, requested_on, consent_on,
    consent_recorded_at, consent_recorded_by_id, state, state_changed_at, outcome_reason, created_by_id, version
)
SELECT id, now(), now(), victim_id, institution_id, 'victima', requested_on,
       CASE WHEN state = 'rechazada' THEN NULL ELSE requested_on END,
       CASE WHEN state = 'rechazada' THEN NULL ELSE now() END,
       CASE WHEN state = 'rechazada' THEN NULL ELSE %(actor)s END,
       state, now(), CASE WHEN state = 'activa' THEN '' ELSE 'Generado para la medición' END, %(actor)s,
       CASE state WHEN 'cerrada' THEN 4 ELSE 3 END
FROM bench_protocol_entries;

INSERT INTO protocol_protocoltransition (
    action, from_state, to_state, at, note, activation_id, actor_id, institution_id
)
SELECT step.action, step.from_state, step.to_state, now(), '', e.id, %(actor)s, e.institution_id
FROM bench_protocol_entries e
CROSS JOIN (VALUES ('', '', 'solicitada'), ('evaluar', 'solicitada', 'en_evaluacion'))
    AS step(action, from_state, to_state)
UNION ALL
SELECT 'activar', 'en_evaluacion', 'activa', now(), '', e.id, %(actor)s, e.institution_id
FROM bench_protocol_entries e WHERE e.state IN ('activa', 'cerrada')
UNION ALL
SELECT 'cerrar', 'activa', 'cerrada', now(), '', e.id, %(actor)s, e.institution_id
FROM bench_protocol_entries e WHERE e.state = 'cerrada'
UNION ALL
SELECT 'rechazar', 'en_evaluacion', 'rechazada', now(), '', e.id, %(actor)s, e.institution_id
FROM bench_protocol_entries e WHERE e.state = 'rechazada';
"""


def seed_protocol_entries() -> int:
    """Protocol activations for the generated victims, if the database has none; how many."""
    from django.db import connection, transaction

    from institutions.models import User
    from protocol.models import ProtocolActivation

    if ProtocolActivation.objects.exists():
        return ProtocolActivation.objects.count()
    actor = User.objects.filter(institution__isnull=False).order_by("pk").values_list("pk", flat=True).first()
    if actor is None:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PROTOCOL_SEED_SQL, {"actor": actor})
    return ProtocolActivation.objects.count()


def settle_statistics() -> None:
    """ANALYZE the tables read: the planner statistics autovacuum would have on a live server."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(TABLES)}")


def orm() -> list:
    from stats.tables import compute_tables

    return compute_tables(year_from=YEAR_FROM, year_to=YEAR_TO)


def raw() -> dict:
    from django.db import connection

    from bench.stats_sql import raw_counts

    with connection.cursor() as cursor:
        return raw_counts(cursor, year_from=YEAR_FROM, year_to=YEAR_TO)


def check_equal() -> tuple[int, int]:
    """compute_tables and the raw SQL agree on every count of every table; (tables, cells)."""
    from bench.stats_sql import differences, table_counts

    tables = orm()
    problems = differences(tables, raw())
    if problems:
        raise AssertionError("Raw SQL and compute_tables differ:\n" + "\n".join(problems))
    return len(tables), sum(len(table_counts(table)) for table in tables)


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def peak_memory_mb() -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    try:
        orm()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - baseline) / 2**20


def _maxrss_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run() -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.models import Case
    from victims.models import CaseVictim

    activations = seed_protocol_entries()
    settle_statistics()
    rss_before = _maxrss_mb()
    tables, cells = check_equal()
    with CaptureQueriesContext(connection) as queries:
        _timed(orm)  # warm-up, counting its queries
    _timed(raw)
    orm_times, raw_times = [], []
    for _ in range(RUNS):
        orm_times.append(_timed(orm))
        raw_times.append(_timed(raw))
    orm_median, raw_median = statistics.median(orm_times), statistics.median(raw_times)
    ratio = orm_median / raw_median
    peak = peak_memory_mb()
    rss_growth = _maxrss_mb() - rss_before
    meets_ratio = ratio <= TARGET_RATIO_TO_RAW
    meets_memory = peak < TARGET_PEAK_MB
    return {
        "name": "stats_tables",
        "years": f"{YEAR_FROM}-{YEAR_TO}",
        "registers": ["formalizadas", "identificadas", "protocolo"],
        "families_covered": list(range(1, 13)),
        "cases": Case.objects.count(),
        "victim_links": CaseVictim.objects.count(),
        "protocol_activations": activations,
        "tables_compared": tables,
        "nonzero_cells_compared": cells,
        "counts_equal": True,  # check_equal raised otherwise
        "runs": RUNS,
        "warmup_runs": 1,
        "orm_queries": len(queries),
        "raw_statements": 3,
        "orm_seconds": [round(t, 3) for t in orm_times],
        "raw_seconds": [round(t, 3) for t in raw_times],
        "orm_median_seconds": round(orm_median, 3),
        "raw_median_seconds": round(raw_median, 3),
        "ratio_orm_to_raw": round(ratio, 3),
        "target_ratio_orm_to_raw": TARGET_RATIO_TO_RAW,
        "ratio_target_met": meets_ratio,
        "orm_peak_tracemalloc_mb": round(peak, 1),
        "process_maxrss_growth_mb": round(rss_growth, 1),
        "process_maxrss_mb": round(_maxrss_mb(), 1),
        "memory_measure": "tracemalloc peak of one compute_tables call (judged); ru_maxrss growth for reference",
        "target_peak_mb": TARGET_PEAK_MB,
        "memory_target_met": meets_memory,
        "ratio_to_target": round(ratio / TARGET_RATIO_TO_RAW, 3),
        "meets_target": meets_ratio and meets_memory,
    }


def main() -> int:
    import json

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    result = run()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
