"""Volume data: `generate_dataset` must create 100,000 cases (~250,000 encrypted victims, with
the institutions' grants and shares) in under 10 minutes. Runs on a database of its own
(``<name>_bench``), recreated every run, which later benchmarks reuse as their data set."""

from __future__ import annotations

import io
import os
import time

import environ
import psycopg
from psycopg import sql

TARGET_SECONDS = 600.0


def bench_database_settings() -> dict:
    """DATABASE_URL's server, with a database of the bench's own."""
    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    config["NAME"] = f"{config['NAME']}_bench"
    return config


def recreate_database(config: dict) -> None:
    params = {"dbname": "postgres", "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}
    params["host"] = config.get("HOST") or config.get("OPTIONS", {}).get("host")
    params["port"] = config.get("PORT") or None
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as connection:
        name = sql.Identifier(config["NAME"])
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


def mitp_institutions() -> None:
    """The board's real institutions, as on any server, before the synthetic ones top them up to 40:
    cases then concentrate on the prosecution and the police as they do in life, so one
    institution sees far more cases than the rest (what the case-list benchmark must cope with)."""
    from cases.demo_data import INSTITUTIONS
    from institutions.models import Institution

    for spec in INSTITUTIONS:
        Institution.objects.get_or_create(
            short_name=spec.short_name,
            defaults={"name": spec.name, "kind": spec.kind, "is_mitp_member": spec.is_mitp_member},
        )


def prepare() -> None:
    """The schema and the real institutions, for benchmarks run without the generated data set."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    mitp_institutions()


def run(cases: int) -> dict:
    from django.core.management import call_command

    from cases.models import Case, CaseGroupObjectPermission, CaseShare, Offender
    from victims.models import Victim

    prepare()
    start = time.perf_counter()
    call_command("generate_dataset", cases=cases, seed=20261128, stdout=io.StringIO())
    elapsed = time.perf_counter() - start
    victims = Victim.objects.count()
    return {
        "name": "generate_dataset",
        "cases": Case.objects.count(),
        "victims": victims,
        "offenders": Offender.objects.count(),
        "shares": CaseShare.objects.count(),
        "object_permissions": CaseGroupObjectPermission.objects.count(),
        "seconds": round(elapsed, 1),
        "cases_per_second": round(cases / elapsed),
        "victims_per_second": round(victims / elapsed),
        "target_seconds_for_100000_cases": TARGET_SECONDS,
        "projected_seconds_for_100000_cases": round(elapsed * 100_000 / cases, 1),
        "ratio_to_target": round(elapsed * 100_000 / cases / TARGET_SECONDS, 3),
        "meets_target": elapsed * 100_000 / cases < TARGET_SECONDS,
    }
