"""Stable pseudonymous codes shown instead of identity: ``V-2024-000123`` (victims),
``I-2024-000045`` (imputados). The number comes from a PostgreSQL sequence, so codes never
repeat even across years, and the year is the year of registration."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

CODE_PATTERN = r"^[A-Z]-[0-9]{4}-[0-9]{6,}$"

SEQUENCES = {"V": "victims_victim_code_seq", "I": "cases_offender_code_seq"}


def allocate_codes(prefix: str, *, count: int = 1, year: int | None = None) -> list[str]:
    year = year or timezone.localdate().year
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [SEQUENCES[prefix], count])
        return [f"{prefix}-{year:04d}-{number:06d}" for (number,) in cursor.fetchall()]


def allocate_code(prefix: str, *, year: int | None = None) -> str:
    return allocate_codes(prefix, count=1, year=year)[0]
