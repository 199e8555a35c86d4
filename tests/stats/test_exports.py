"""Exports in publication mode (stats.publication, stats.exports): no exact small count leaves,
not from one table, not from several read together; totals and percentages come from published
values only; the file names its parameters, fingerprint and mode; exports are audited.

The attacks of the review (shared totals across tables of a population, a sub-population table
against a row of its parent, a rare nationality's label) are reproduced here, and a property
test checks, with an independent linear programme over *all* the tables at once, that no hidden
value of a random population can be pinned from what is published."""

from __future__ import annotations

import csv
import io

import numpy
import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from scipy.optimize import linprog

from cases.constants import TraffickingPurpose
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from stats.exports import HIDDEN, audit_export, snapshot_table_csv, snapshot_xlsx
from stats.models import SnapshotKind, StatisticsSnapshot
from stats.publication import OTHER_NATIONALITIES_LABEL, PublicationSettings, PublishedTable, publish_tables
from stats.tables import _nationality_table, category_table, share, year_table

SUPPRESSION = PublicationSettings(mode="supresion", threshold=5)
CTDC = PublicationSettings(mode="ctdc", threshold=10)
REG = "identificadas"


def by_sex(counts: dict, years: range, key="victimas_por_sexo") -> dict:
    from kernel.choices import Sex

    return category_table(
        key=key, family=5, register=REG, title="Víctimas por sexo", row_header="Sexo",
        categories=Sex.choices, counts=counts, years=years,
    ).as_dict()  # fmt: skip


def per_year(counts: dict, years: range, key="victimas_por_anio", columns=("Víctimas",)) -> dict:
    return year_table(
        key=key, family=4, register=REG, title=key, columns=list(columns), counts=counts, years=years
    ).as_dict()


def by_nationality(counts: dict, years: range) -> dict:
    return _nationality_table(
        key="victimas_por_nacionalidad", family=6, register=REG, title="Víctimas por nacionalidad",
        counts=counts, years=years,
    ).as_dict()  # fmt: skip


def published(tables: list[dict], config=SUPPRESSION) -> dict[str, PublishedTable]:
    return {table.key: table for table in publish_tables(tables, config)}


def row(table: PublishedTable, label: str) -> tuple:
    return next(r for r in table.rows if r[0] == label)


# -- a joint oracle: every published table at once -----------------------------------------------


class Joint:
    """The linear system an attacker holds: each table's additivity, the published values, the
    identities between tables (shared totals), hidden values at least 1 (zeros are published)."""

    def __init__(self):
        self.names: dict[tuple, int] = {}
        self.bounds: dict[tuple, tuple[int, int | None]] = {}
        self.hidden: set[tuple] = set()
        self.equations: list[tuple[dict[tuple, float], float]] = []

    def term(self, name: tuple, value):
        """A value as (variable name, None) if hidden, else (None, value)."""
        if value is None:
            self.names.setdefault(name, len(self.names))
            self.bounds[name] = (1, None)
            self.hidden.add(name)
            return name, None
        return None, value

    def equal_sum(self, parts: list[tuple], total: tuple) -> None:
        """sum(parts) == total, each a term."""
        coefficients: dict[tuple, float] = {}
        rhs = 0.0
        for name, value in parts:
            if name is None:
                rhs -= value
            else:
                coefficients[name] = coefficients.get(name, 0) + 1
        name, value = total
        if name is None:
            rhs += value
        else:
            coefficients[name] = coefficients.get(name, 0) - 1
        self.equations.append((coefficients, rhs))

    def add_category(self, table: PublishedTable) -> list[tuple]:
        """The table's terms; returns its totals row (years, then grand) for linking."""
        key = table.key
        cells = [
            [self.term((key, r, y), v) for y, v in enumerate(cells)] for r, (_l, cells, _t, _p) in enumerate(table.rows)
        ]
        totals = [self.term((key, "T", y), v) for y, v in enumerate(table.totals)]
        grand = self.term((key, "G"), table.grand_total)
        row_totals = [self.term((key, r, "T"), t) for r, (_l, _c, t, _p) in enumerate(table.rows)]
        for r, line in enumerate(cells):
            self.equal_sum(line, row_totals[r])
        for y, total in enumerate(totals):
            self.equal_sum([line[y] for line in cells], total)
        self.equal_sum(row_totals, grand)
        self.equal_sum(totals, grand)
        return [*totals, grand]

    def add_per_year(self, table: PublishedTable) -> list[tuple]:
        cells = [self.term((table.key, y), cells[0]) for y, (_l, cells, _t, _p) in enumerate(table.rows)]
        total = self.term((table.key, "G"), table.totals[0])
        self.equal_sum(cells, total)
        return [*cells, total]

    def same(self, a: list[tuple], b: list[tuple]) -> None:
        for x, y in zip(a, b, strict=True):
            self.equal_sum([x], y)

    def pinned(self) -> list[tuple]:
        size = len(self.names)
        if not size:
            return []
        a_eq, b_eq = [], []
        for coefficients, rhs in self.equations:
            line = [0.0] * size
            for name, c in coefficients.items():
                line[self.names[name]] += c
            if any(line):
                a_eq.append(line)
                b_eq.append(rhs)
            else:
                assert abs(rhs) < 1e-9, "the published values contradict each other"
        found = []
        bounds = [self.bounds[name] for name in self.names]
        for name, k in self.names.items():
            if name not in self.hidden:
                continue
            ends = []
            for sign in (1, -1):
                objective = numpy.zeros(size)
                objective[k] = sign
                result = linprog(objective, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds)
                assert result.status in (0, 3), result.message
                ends.append(None if result.status == 3 else round(sign * result.fun))
            if ends[0] == ends[1]:
                found.append(name)
        return found


class JointRounded(Joint):
    """The same attacker against CTDC rounding: a published value v is only known to lie in
    [v, v + 9], a hidden one in [0, 9] (zeros are hidden too)."""

    def term(self, name: tuple, value):
        self.names.setdefault(name, len(self.names))
        if value is None:
            self.bounds[name] = (0, 9)
            self.hidden.add(name)
        else:
            self.bounds[name] = (value, value + 9)
        return name, None


# -- the review's attacks, closed ----------------------------------------------------------------


def test_two_hidden_ones_of_a_row_are_not_given_back_by_the_row_total():
    years = range(2021, 2024)
    sex = by_sex({("femenino", 2021): 1, ("femenino", 2022): 1, ("femenino", 2023): 20, ("masculino", 2023): 30}, years)
    table = published([sex])["victimas_por_sexo"]
    joint = Joint()
    joint.add_category(table)
    assert row(table, "Femenino")[1][:2] == [None, None]
    assert joint.pinned() == []


def test_a_total_hidden_in_one_table_is_hidden_in_every_table_of_the_population():
    years = range(2021, 2024)
    nationality = by_nationality(
        {("PE", 2021): 22, ("PE", 2023): 35, ("BO", 2021): 1, ("BO", 2022): 22, ("BO", 2023): 30}, years
    )
    victims = per_year({2021: 23, 2022: 22, 2023: 65}, years)
    tables = published([victims, nationality])
    by_nat, by_year = tables["victimas_por_nacionalidad"], tables["victimas_por_anio"]

    assert row(by_nat, "Bolivia")[1][0] is None
    for y in range(3):
        assert (by_nat.totals[y] is None) == (by_year.rows[y][1][0] is None)
    joint = Joint()
    joint.same(joint.add_category(by_nat), joint.add_per_year(by_year))
    assert joint.pinned() == []


def test_a_sub_population_table_does_not_give_back_a_hidden_cell_of_the_whole_population():
    from cases.constants import TraffickingPurpose

    years = range(2021, 2024)
    purposes = (TraffickingPurpose.SEXUAL, TraffickingPurpose.LABOUR, TraffickingPurpose.ORGAN_REMOVAL)
    sexual, labour, organs = (purpose.value for purpose in purposes)
    unknown = TraffickingPurpose.UNKNOWN.value
    counts = {(sexual, 2022): 3, (sexual, 2023): 15, (labour, 2021): 9, (labour, 2022): 9, (labour, 2023): 9}
    counts |= {(organs, 2021): 15, (organs, 2022): 1, (organs, 2023): 6, (unknown, 2023): 1}
    by_purpose = category_table(
        key="victimas_por_fin", family=4, register=REG, title="Víctimas por fin", row_header="Fin",
        categories=TraffickingPurpose.choices, counts=counts, years=years,
    ).as_dict()  # fmt: skip
    sexual_per_year = per_year({2022: 3, 2023: 15}, years, key="trata_sexual_victimas_por_anio")
    tables = published([by_purpose, sexual_per_year])
    purpose, sub = tables["victimas_por_fin"], tables["trata_sexual_victimas_por_anio"]

    sexual_row = next(r for r in purpose.rows if r[0] == TraffickingPurpose.SEXUAL.label)
    assert [cell is None for cell in sexual_row[1]] == [r[1][0] is None for r in sub.rows]
    assert (sexual_row[2] is None) == (sub.totals[0] is None)
    joint = Joint()
    purpose_terms = joint.add_category(purpose)  # noqa: F841 - the table's own equations
    sub_terms = joint.add_per_year(sub)
    sexual_index = [r[0] for r in purpose.rows].index(TraffickingPurpose.SEXUAL.label)
    joint.same(
        [joint.term(("victimas_por_fin", sexual_index, y), v) for y, v in enumerate(sexual_row[1])]
        + [joint.term(("victimas_por_fin", sexual_index, "T"), sexual_row[2])],
        sub_terms,
    )
    assert joint.pinned() == []


def test_a_rare_nationality_is_folded_into_others_and_rows_are_in_alphabetical_order():
    years = range(2022, 2024)
    nationality = by_nationality({("PE", 2023): 40, ("BO", 2023): 12, ("MN", 2023): 1, ("AR", 2022): 30}, years)
    for config in (SUPPRESSION, CTDC):
        table = published([nationality], config)["victimas_por_nacionalidad"]
        labels = [r[0] for r in table.rows]
        assert "Mongolia" not in labels
        assert labels == ["Argentina", "Bolivia", "Perú", OTHER_NATIONALITIES_LABEL, "Sin información"]


def test_one_mode_per_system_ctdc_rounds_down_and_hides_below_ten():
    years = range(2022, 2024)
    table = published([per_year({2022: 12, 2023: 4}, years, key="casos_por_anio")], CTDC)["casos_por_anio"]
    assert [r[1] for r in table.rows] == [[10], [None]]
    assert table.totals == [10]
    assert table.mode_label == "Redondeo hacia abajo a múltiplos de 10, publicando solo conteos de al menos 10"


def test_a_table_per_year_with_several_measures_is_published_measure_by_measure():
    years = range(2022, 2024)
    protocol = per_year(
        {2022: [7, 6], 2023: [9, 3]}, years, key="protocolo_ingresos_por_anio", columns=("Ingresos", "Personas")
    )
    table = published([protocol])["protocolo_ingresos_por_anio"]
    assert table.columns == ["Ingresos", "Personas"]
    assert table.rows[1][1][1] is None, "3 people is a small count"
    assert table.totals[1] is None or table.rows[0][1][1] is None, "else the 3 is the total minus 6"


def test_percentages_are_shares_of_published_values_and_absent_where_the_total_is_hidden():
    years = range(2022, 2024)
    nationality = by_nationality({("BO", 2022): 40, ("BO", 2023): 35, ("PE", 2022): 22, ("PE", 2023): 3}, years)
    table = published([nationality])["victimas_por_nacionalidad"]
    for label, _cells, total, percentage in table.rows:
        if total is not None and table.grand_total:
            assert percentage == share(total, table.grand_total), label
        else:
            assert percentage is None, label


@pytest.mark.parametrize("config", [{"mode": "exacto"}, {"threshold": 0}, {"threshold": True}])
def test_a_misconfigured_publication_is_refused(config):
    with override_settings(STATISTICS_PUBLICATION=config), pytest.raises(ValueError):
        PublicationSettings.configured()


def test_the_threshold_is_configurable():
    years = range(2022, 2024)
    tables = [per_year({2022: 7, 2023: 30}, years, key="casos_por_anio")]
    with override_settings(STATISTICS_PUBLICATION={"mode": "supresion", "threshold": 10}):
        assert publish_tables(tables)[0].rows[0][1] == [None]
    with override_settings(STATISTICS_PUBLICATION={"mode": "supresion", "threshold": 5}):
        assert publish_tables(tables)[0].rows[0][1] == [7]


# -- property: a random population, all its tables read together ---------------------------------

YEARS = range(2020, 2023)
people = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["femenino", "masculino", "sin_informacion"]),
                            st.sampled_from(["BO", "PE", "VE", "CO", ""])), max_size=60)  # fmt: skip


@settings(max_examples=120, deadline=None, derandomize=True)
@given(population=people)
def test_no_hidden_value_of_a_population_can_be_pinned_from_all_its_tables_together(population):
    sex, nationality, years = {}, {}, {}
    for year_index, person_sex, person_nationality in population:
        year = YEARS[year_index]
        sex[(person_sex, year)] = sex.get((person_sex, year), 0) + 1
        nationality[(person_nationality, year)] = nationality.get((person_nationality, year), 0) + 1
        years[year] = years.get(year, 0) + 1
    tables = published([per_year(years, YEARS), by_sex(sex, YEARS), by_nationality(nationality, YEARS)])
    joint = Joint()
    year_terms = joint.add_per_year(tables["victimas_por_anio"])
    joint.same(joint.add_category(tables["victimas_por_sexo"]), year_terms)
    joint.same(joint.add_category(tables["victimas_por_nacionalidad"]), year_terms)

    assert joint.pinned() == []
    for table in tables.values():
        for _label, cells, total, _pct in table.rows:
            assert all(cell is None or cell == 0 or cell >= 5 for cell in [*cells, total] if cell is not None)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(population=people)
def test_no_hidden_value_of_a_population_can_be_pinned_from_all_its_tables_rounded_by_ctdc(population):
    sex, nationality, years = {}, {}, {}
    for year_index, person_sex, person_nationality in population:
        year = YEARS[year_index]
        sex[(person_sex, year)] = sex.get((person_sex, year), 0) + 1
        nationality[(person_nationality, year)] = nationality.get((person_nationality, year), 0) + 1
        years[year] = years.get(year, 0) + 1
    tables = published([per_year(years, YEARS), by_sex(sex, YEARS), by_nationality(nationality, YEARS)], CTDC)
    joint = JointRounded()
    year_terms = joint.add_per_year(tables["victimas_por_anio"])
    joint.same(joint.add_category(tables["victimas_por_sexo"]), year_terms)
    joint.same(joint.add_category(tables["victimas_por_nacionalidad"]), year_terms)
    assert joint.pinned() == []


def test_the_review_8_population_pinned_under_suppression_is_not_pinned_under_ctdc():
    """Review 8: five victims; their purpose and sex tables, read together with the published
    totals, gave back every suppressed count. Rounded by CTDC, nothing is pinned."""
    years = range(2022, 2024)
    purpose_counts = {("explotacion_sexual", 2022): 1, ("trabajo_forzoso", 2022): 1, ("sin_informacion", 2022): 1}
    purpose_counts[("trabajo_forzoso", 2023)] = 2
    purpose = category_table(
        key="victimas_por_fin", family=4, register=REG, title="f", row_header="F",
        categories=TraffickingPurpose.choices, years=years, counts=purpose_counts,
    ).as_dict()  # fmt: skip
    sex = by_sex({("femenino", 2022): 3, ("femenino", 2023): 1, ("masculino", 2023): 1}, years)
    tables = [per_year({2022: 3, 2023: 2}, years), purpose, sex]
    for config, joint_class, pinned in ((SUPPRESSION, Joint, True), (CTDC, JointRounded, False)):
        result = published(tables, config)
        joint = joint_class()
        year_terms = joint.add_per_year(result["victimas_por_anio"])
        joint.same(joint.add_category(result["victimas_por_fin"]), year_terms)
        joint.same(joint.add_category(result["victimas_por_sexo"]), year_terms)
        assert bool(joint.pinned()) is pinned, config.mode


# -- files and audit -----------------------------------------------------------------------------

BY_NATIONALITY = by_nationality({("BO", 2022): 40, ("BO", 2023): 35, ("PE", 2022): 22, ("PE", 2023): 3,
                                 ("VE", 2022): 18, ("VE", 2023): 27}, range(2022, 2024))  # fmt: skip
PER_YEAR = per_year({2022: 12, 2023: 4}, range(2022, 2024), key="casos_por_anio")


@pytest.fixture
def snapshot(db):
    return StatisticsSnapshot.objects.create(
        year_from=2022,
        year_to=2023,
        registers=[REG],
        definition_version="2",
        parameters_key="p" * 64,
        data_fingerprint="f" * 64,
        kind=SnapshotKind.REQUESTED,
        computation_ms=12,
        tables=[BY_NATIONALITY, PER_YEAR],
    )


def lines(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_csv_names_parameters_fingerprint_and_mode_and_carries_no_hidden_count(snapshot):
    rows = lines(snapshot_table_csv(snapshot, table_key="victimas_por_nacionalidad", register=REG, config=SUPPRESSION))
    assert rows[0] == ["Víctimas por nacionalidad", "Causas identificadas"]
    flat = {cell for row in rows for cell in row}
    assert "f" * 64 in flat and "2022-2023" in flat
    assert any("Supresión de celdas menores que 5" in cell for cell in flat)
    peru = next(row for row in rows if row and row[0] == "Perú")
    assert peru[2] == HIDDEN and "3" not in peru


def test_by_default_files_are_rounded_by_ctdc(snapshot):
    rows = lines(snapshot_table_csv(snapshot, table_key="victimas_por_nacionalidad", register=REG))
    assert any("Redondeo hacia abajo a múltiplos de 10" in cell for row in rows for cell in row)
    bolivia = next(row for row in rows if row and row[0] == "Bolivia")
    assert bolivia[1:4] == ["40", "30", "70"], "40, 35 and 75 rounded down to tens"


def test_a_table_the_snapshot_does_not_have_is_a_key_error(snapshot):
    with pytest.raises(KeyError):
        snapshot_table_csv(snapshot, table_key="victimas_por_nacionalidad", register="formalizadas")


def test_the_workbook_has_the_parameters_and_every_table_in_publication_mode(snapshot):
    workbook = load_workbook(io.BytesIO(snapshot_xlsx(snapshot, config=SUPPRESSION)))
    assert workbook.sheetnames == ["Parámetros", "01", "02"]
    about = {row[0]: row[1] for row in workbook["Parámetros"].iter_rows(values_only=True)}
    assert about["Huella de los datos"] == "f" * 64 and about["Años"] == "2022-2023"
    assert about["Modo de publicación"].startswith("Supresión de celdas menores que 5")
    sheet = [list(row) for row in workbook["01"].iter_rows(values_only=True)]
    assert sheet[0][0] == "Víctimas por nacionalidad"
    peru = next(row for row in sheet if row[0] == "Perú")
    assert peru[2] == HIDDEN


def test_an_export_is_in_the_access_log_with_what_left(snapshot, django_user_model):
    from tests.factories import UserFactory

    user = UserFactory(is_mitp_secretariat=True)
    audit_export(user, snapshot, table_key="casos_por_anio", register=REG, mode="supresion", ip_address="10.0.0.1")
    event = AccessEvent.objects.get()
    assert (event.action, event.actor_id, event.ip_address) == (AccessAction.EXPORT, user.pk, "10.0.0.1")
    assert event.details == {
        "estadisticas": snapshot.pk,
        "modo": "supresion",
        "huella": "f" * 64,
        "tabla": "casos_por_anio",
        "registro": REG,
    }
