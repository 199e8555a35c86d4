"""bench/stats_sql.py, the raw SQL `make bench` times compute_tables against (issue 7, "Speed and
memory"), gives exactly compute_tables' counts, table by table, on small hand-built worlds: the
hand-counted world of tests/stats/test_tables.py (every family, all three registers) and a few
extra cases where "the earliest link per person" is easy to get wrong."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection

from bench.stats_sql import differences, raw_counts, table_counts
from cases.constants import CaseStatus, TerminationType, TraffickingPurpose
from cases.models import CaseOffender
from kernel.choices import Region, Sex
from stats.tables import compute_tables
from tests.factories import CaseFactory, OffenderFactory, VictimFactory
from tests.stats.test_tables import build_world, link
from victims.models import CaseVictim

pytestmark = pytest.mark.django_db

D = datetime.date
SEXUAL, LABOUR = TraffickingPurpose.SEXUAL, TraffickingPurpose.LABOUR


def tricky_world(institution) -> None:
    """Adult first and minor later (NNA tables vs the condition table), the same victim in two
    cases of the same date (tie broken by case id), a victim whose sexual and labour links fall
    in different years, an offender convicted only in a later case, an identified-only case."""
    lead = {"lead_institution": institution}
    a = CaseFactory(
        intake_date=D(2016, 2, 1),
        is_formalised=True,
        investigation_start_date=D(2016, 1, 1),
        formalised_date=D(2016, 3, 1),
        purpose=SEXUAL,
        **lead,
    )
    b = CaseFactory(
        intake_date=D(2018, 2, 1),
        is_formalised=True,
        investigation_start_date=D(2018, 1, 1),
        formalised_date=D(2018, 3, 1),
        purpose=LABOUR,
        status=CaseStatus.CLOSED,
        termination_type=TerminationType.NO_PERSEVERAR,
        termination_date=D(2019, 1, 1),
        **lead,
    )
    c = CaseFactory(intake_date=D(2018, 2, 1), purpose=SEXUAL, region_detected=Region.UNKNOWN, **lead)
    person = {"registering_institution": institution}
    adult_then_minor = VictimFactory(sex=Sex.MALE, nationality="HT", **person)
    link(a, adult_then_minor, age=30, purpose=SEXUAL)
    link(b, adult_then_minor, age=12, purpose=LABOUR, region=Region.ARICA)
    same_day = VictimFactory(sex=Sex.FEMALE, nationality="", **person)
    link(b, same_day, age=8)
    link(c, same_day, age=9, purpose=SEXUAL)
    offender = OffenderFactory(nationality="VE")
    CaseOffender.objects.create(case=a, offender=offender)
    CaseOffender.objects.create(
        case=b, offender=offender, is_formalised=True, is_convicted=True, sentence_date=D(2019, 1, 1)
    )


def assert_same(year_from: int, year_to: int) -> list:
    tables = compute_tables(year_from=year_from, year_to=year_to)
    with connection.cursor() as cursor:
        raw = raw_counts(cursor, year_from=year_from, year_to=year_to)
    assert differences(tables, raw) == []
    return tables


@pytest.mark.parametrize(("year_from", "year_to"), [(2014, 2023), (2011, 2023), (2016, 2018), (2020, 2021)])
def test_raw_sql_equals_compute_tables(institution, officer, year_from, year_to):
    build_world(institution, officer)
    tricky_world(institution)
    tables = assert_same(year_from, year_to)
    assert {table.family for table in tables} == set(range(1, 13))


def test_the_worlds_are_not_empty(institution, officer):
    """The comparison is not vacuous: the raw SQL finds counts in every register."""
    build_world(institution, officer)
    tricky_world(institution)
    tables = assert_same(2014, 2023)
    assert all(sum(len(table_counts(t)) for t in tables if t.register == reg) for reg in {t.register for t in tables})
    assert CaseVictim.objects.count() == 13


def test_a_difference_is_reported(institution, officer):
    """Guard on the guard: a count that differs is named, never passed over."""
    build_world(institution, officer)
    tables = compute_tables(year_from=2014, year_to=2023)
    with connection.cursor() as cursor:
        raw = raw_counts(cursor, year_from=2014, year_to=2023)
    raw[("identificadas", "casos_por_anio")][(None, 2022)] += 1
    assert differences(tables, raw) == ["identificadas/casos_por_anio: ORM {(None, 2022): 1} raw {(None, 2022): 2}"]
