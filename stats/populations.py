"""Who a case register counts, selected once per computation (stats.tables reads it).

A register's cases are chosen by ``CaseFacts.cases``. Its *people* are chosen by the rule of
docs/statistics.md, "a victim is counted once per register": of a person's links to the
register's cases in the range, the one of the earliest case (by the register's date, then case
id) gives the year and the facts (purpose, region, age). That choice, an anti-join over the
links, is the expensive step, and every table of a population needs it. So each population is
selected **once**, by the ORM, into a temporary table (``stats.models.CountedPerson``), and
each of its tables is then a ``GROUP BY`` over that small table:

- ``victimas``: every victim of the register and range;
- ``trata_sexual`` / ``trata_laboral``: victims counted over their links with that purpose only
  (a person exploited in both ways is in both, possibly in different years);
- ``nna``: victims counted over the links where they were under 18;
- ``imputados``: offenders, in the year of their earliest case, with whether they were
  formalised or convicted in any case of the register and range.

The temporary table lives in a transaction (or savepoint) of its own: PostgreSQL gives every
connection its own, drops it on rollback, and this module drops it when the register is done.
Only statistical columns are selected; nothing is decrypted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.postgres.aggregates import BoolOr
from django.db import connection, transaction
from django.db.models import Case as Switch
from django.db.models import CharField, Exists, F, IntegerField, Min, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import ExtractYear

from cases.constants import TraffickingPurpose
from cases.models import Case, CaseOffender
from kernel.choices import Region
from stats.models import CountedPerson
from stats.registers import CaseRegister
from victims.constants import AgeStatus
from victims.models import CaseVictim

VICTIMS, SEXUAL, LABOUR, NNA, OFFENDERS = "victimas", "trata_sexual", "trata_laboral", "nna", "imputados"
EXACT_AGE_UNKNOWN = -1  # NNA table: a minor whose exact age is unknown

# A victim's purpose and region are the link's (they differ per case, ADR 0003); where the link
# says "sin información" the case's own value is used.
VICTIM_PURPOSE = Switch(
    When(purpose=TraffickingPurpose.UNKNOWN, then=F("case__purpose")), default=F("purpose"), output_field=CharField()
)
VICTIM_REGION = Switch(
    When(region_detected=Region.UNKNOWN, then=F("case__region_detected")),
    default=F("region_detected"),
    output_field=CharField(),
)
NNA_AGE = Switch(
    When(age_status=AgeStatus.MINOR_UNKNOWN, then=Value(EXACT_AGE_UNKNOWN)),
    default=F("age_at_facts"),
    output_field=IntegerField(),
)

# The temporary table of stats.models.CountedPerson (managed=False: Django never creates it),
# column by column: its SQL type, and what a population without that fact puts in it.
COLUMNS: dict[str, tuple[str, str]] = {
    "population": ("varchar(20)", "NULL"),
    "person_id": ("uuid", "NULL"),
    "year": ("integer", "NULL"),
    "purpose": ("varchar(40)", "''"),
    "sex": ("varchar(20)", "''"),
    "nationality": ("varchar(2)", "''"),
    "region": ("varchar(20)", "''"),
    "is_minor": ("boolean", "NULL"),
    "nna_age": ("integer", "NULL"),
    "formalised": ("boolean", "NULL"),
    "convicted": ("boolean", "NULL"),
}
DROP_TABLE = "DROP TABLE IF EXISTS pg_temp.stats_counted_person"


class CaseFacts:
    """The querysets of one case register over one year range."""

    def __init__(self, register: CaseRegister, year_from: int, year_to: int):
        self.register = register
        self.year_from, self.year_to = year_from, year_to
        self.years = range(year_from, year_to + 1)

    def _q(self, prefix: str = "") -> Q:
        return self.register.cases_q(year_from=self.year_from, year_to=self.year_to, prefix=prefix)

    def cases(self, condition: Q | None = None) -> QuerySet[Case]:
        return Case.objects.filter(self._q(), condition or Q()).annotate(year=ExtractYear(self.register.date_field))

    def victim_links(self, condition: Q | None = None) -> QuerySet[CaseVictim]:
        """One link per victim: among the victim's links to the register's cases in the range
        (and matching ``condition``), the one of the earliest case (by the register's date, then
        case id). An anti-join (NOT EXISTS), which PostgreSQL runs in one pass over the links."""
        links = CaseVictim.objects.annotate(victim_purpose=VICTIM_PURPOSE).filter(self._q("case__"), condition or Q())
        date = f"case__{self.register.date_field}"
        earlier = links.filter(victim_id=OuterRef("victim_id")).filter(
            Q(**{f"{date}__lt": OuterRef(date)}) | Q(**{date: OuterRef(date), "case_id__lt": OuterRef("case_id")})
        )
        return links.filter(~Exists(earlier)).annotate(year=ExtractYear(date)).order_by()

    def offenders(self) -> QuerySet[CaseOffender]:
        """One row per offender: the year of their earliest case of the register and range (a
        tie on the date falls in the same year), their nationality, and whether they were
        formalised or convicted in any of those cases."""
        return (
            CaseOffender.objects.filter(self._q("case__"))
            .annotate(c_person=F("offender_id"), c_nationality=F("offender__nationality"))
            .values("c_person", "c_nationality")
            .annotate(
                c_year=ExtractYear(Min(f"case__{self.register.date_field}")),
                c_formalised=BoolOr("is_formalised"),
                c_convicted=BoolOr("is_convicted"),
            )
            .order_by()
        )

    def people(self, population: str) -> QuerySet[CountedPerson]:
        """The population's people (inside :func:`counted_people` only)."""
        return CountedPerson.objects.filter(population=population).order_by()


def _victim_rows(facts: CaseFacts, condition: Q | None) -> QuerySet:
    region = F("case__fiscalia_regional") if facts.register.by_fiscalia else VICTIM_REGION
    return facts.victim_links(condition).annotate(
        c_person=F("victim_id"),
        c_year=F("year"),
        c_purpose=F("victim_purpose"),
        c_sex=F("victim__sex"),
        c_nationality=F("victim__nationality"),
        c_region=region,
        c_is_minor=F("is_minor"),
        c_nna_age=NNA_AGE,
    )


VICTIM_COLUMNS = ("person_id", "year", "purpose", "sex", "nationality", "region", "is_minor", "nna_age")
OFFENDER_COLUMNS = ("person_id", "year", "nationality", "formalised", "convicted")


def _select(population: str, queryset: QuerySet, columns: tuple[str, ...]) -> tuple[str, list]:
    """SELECT of one population's rows, every column of the table in order, from ``queryset``'s
    ``c_<column>`` annotations (by name, so the ORM's order of the SELECT list does not matter)."""
    aliases = {column: "c_person" if column == "person_id" else f"c_{column}" for column in columns}
    sql, params = queryset.values(*aliases.values()).query.sql_with_params()
    select = ["%s::varchar(20) AS population"]
    for column, (sql_type, missing) in list(COLUMNS.items())[1:]:
        source = aliases.get(column, missing)
        select.append(f"{source}::{sql_type} AS {column}")
    return f"SELECT {', '.join(select)} FROM ({sql}) AS source", [population, *params]  # noqa: S608 - our SQL


@contextmanager
def counted_people(facts: CaseFacts) -> Iterator[None]:
    """The register's populations in the temporary table for the duration of the block.

    One CREATE TABLE … AS of the five populations: PostgreSQL runs it with parallel workers,
    which an INSERT … SELECT would not get (measured: about three times slower)."""
    populations = [
        _select(VICTIMS, _victim_rows(facts, None), VICTIM_COLUMNS),
        _select(SEXUAL, _victim_rows(facts, Q(victim_purpose=TraffickingPurpose.SEXUAL)), VICTIM_COLUMNS),
        _select(LABOUR, _victim_rows(facts, Q(victim_purpose=TraffickingPurpose.LABOUR)), VICTIM_COLUMNS),
        _select(NNA, _victim_rows(facts, Q(is_minor=True)), VICTIM_COLUMNS),
        _select(OFFENDERS, facts.offenders(), OFFENDER_COLUMNS),
    ]
    statement = " UNION ALL ".join(sql for sql, _params in populations)
    params = [param for _sql, population_params in populations for param in population_params]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('pg_temp.stats_counted_person') IS NOT NULL")
        if cursor.fetchone()[0]:  # never left behind (dropped, or rolled back): a nested call
            raise RuntimeError("A statistics computation cannot run inside another one on the same connection.")
        cursor.execute(f"CREATE TEMPORARY TABLE stats_counted_person AS {statement}", params)
        # The rows lie population by population (UNION ALL keeps them in order), so each table's
        # scan of its population reads only that population's pages.
        cursor.execute("CREATE INDEX ON stats_counted_person (population)")
        cursor.execute("ANALYZE stats_counted_person")
        yield
        cursor.execute(DROP_TABLE)
