"""`make bench`: every speed target of the issues, measured in one run, printed as JSON.

Each benchmark reports its times, its target and the ratio side by side. Exit status is 1 if
any target is missed, so a regression is visible without reading the numbers.
"""

from __future__ import annotations

import json
import os
import platform
import sys

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from bench import crypto

    results = [crypto.run()]
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "benchmarks": results,
        "all_targets_met": all(result["meets_target"] for result in results),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report["all_targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
