"""`make bench`: every speed target of the issues, measured in one run, printed as JSON.

Each benchmark reports its times, its target and the ratio side by side. Exit status is 1 if
any target is missed. ``BENCH_CASES`` (default 100000) sets the size of the generated data set;
a smaller one gives a quick, projected figure (the case list is then measured on less data).

``python -m bench NAME...`` runs only the named benchmarks (crypto, dataset, case_list, pages,
stats, api), to iterate on one quickly; case_list, pages and stats read the generated data set,
so naming them runs dataset too. Without dataset, the fresh bench database gets the schema and
the real institutions only (api needs nothing more). ``python -m bench.stats`` measures the
statistics alone on DATABASE_URL's own database, for a data set generated there earlier.
"""

from __future__ import annotations

import json
import os
import platform
import sys

import django

BENCHMARKS = ("crypto", "dataset", "case_list", "pages", "stats", "api")
NEED_DATASET = frozenset({"case_list", "pages", "stats"})


def selected(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"Unknown benchmark {', '.join(unknown)}: choose among {', '.join(BENCHMARKS)}.")
    chosen = set(names or BENCHMARKS)
    if chosen & NEED_DATASET:
        chosen.add("dataset")
    return [name for name in BENCHMARKS if name in chosen]


def main(argv: list[str]) -> int:
    names = selected(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    from bench import dataset

    cases = int(os.environ.get("BENCH_CASES", "100000"))
    database = dataset.bench_database_settings()
    dataset.recreate_database(database)
    django.setup()
    from django.conf import settings
    from django.db import connections

    settings.DATABASES["default"]["NAME"] = database["NAME"]
    connections.close_all()

    from bench import api, case_list, crypto, pages, stats

    results = []
    if "crypto" in names:
        results.append(crypto.run())
    if "dataset" in names:
        results.append(dataset.run(cases))
    else:
        dataset.prepare()
    # These read the data set the dataset benchmark just generated.
    if "case_list" in names:
        results.append(case_list.run())
    if "pages" in names:
        results.append(pages.run())
    if "stats" in names:
        results.append(stats.run())
    # Last: it adds cases of its own to the data set.
    if "api" in names:
        results.extend(api.run())
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "database": database["NAME"],
        "selected": names,
        "benchmarks": results,
        "all_targets_met": all(result["meets_target"] for result in results),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report["all_targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
