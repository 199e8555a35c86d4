"""`make bench`: every speed target of the issues, measured in one run, printed as JSON.

Each benchmark reports its times, its target and the ratio side by side. Exit status is 1 if
any target is missed. ``BENCH_CASES`` (default 100000) sets the size of the generated data set;
a smaller one gives a quick, projected figure (the case list is then measured on less data).
"""

from __future__ import annotations

import json
import os
import platform
import sys

import django


def main() -> int:
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

    from bench import case_list, crypto, pages

    results = [crypto.run(), dataset.run(cases)]
    # These read the data set the dataset benchmark just generated.
    results.append(case_list.run())
    results.append(pages.run())
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "database": database["NAME"],
        "benchmarks": results,
        "all_targets_met": all(result["meets_target"] for result in results),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report["all_targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
