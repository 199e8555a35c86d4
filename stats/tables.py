"""The twelve MITP table families (../shared/domain.md), computed in PostgreSQL.

``compute_tables(year_from=, year_to=, registers=)`` returns a list of :class:`Table`. Every
count is a ``GROUP BY`` in the database (``values().annotate(Count(...))``, conditional
expressions); Python only arranges the few aggregated rows into tables. A case register's
people are selected once (stats.populations: each person attributed to one record, into a
temporary table); each table then costs one query (protocol tables share one), so the number of
queries does not depend on the volume of data.

The definitions (years, de-duplication, unknown categories, percentages, the five-year change)
are written down in docs/statistics.md; bump :data:`DEFINITION_VERSION` whenever one changes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Case as Switch
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import translation
from django_countries import countries

from cases.constants import TERMINATION_GROUP, CaseStatus, TerminationGroup, TerminationType, TraffickingPurpose
from kernel.choices import FiscaliaRegional, Region, Sex
from protocol.statistics import protocol_entries_by
from stats.populations import EXACT_AGE_UNKNOWN, LABOUR, NNA, OFFENDERS, SEXUAL, VICTIMS, CaseFacts, counted_people
from stats.registers import CASE_REGISTERS, REGISTER_LABELS, REGISTERS, Register
from victims.constants import ADULT_AGE
from victims.models import CaseVictim

__all__ = ["DEFINITION_VERSION", "REGISTERS", "REGISTER_LABELS", "Row", "Table", "compute_tables"]

# 2: the protocol register counts people once (each in the year of their first entry), with
# all entries beside them per year.
DEFINITION_VERSION = 2

FAMILIES = range(1, 13)
# Families computed for each register (docs/statistics.md says why).
REGISTER_FAMILIES: dict[str, tuple[int, ...]] = {
    Register.FORMALISED: tuple(range(1, 12)),
    Register.IDENTIFIED: tuple(range(1, 12)),
    Register.PROTOCOL: (12,),
}

CHANGE_LABEL = "Cambio en los últimos cinco años"
CHANGE_KEY = "cambio_cinco_anios"
TOTAL_COLUMN = "Total"
UNKNOWN_KEY = "sin_informacion"
UNKNOWN_LABEL = "Sin información"
NO_TERMINATION = "sin_termino"


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    key: str
    counts: list[int]


@dataclasses.dataclass(frozen=True)
class Table:
    """One statistical table.

    ``columns`` label ``Row.counts`` and ``totals`` position by position. Tables by category
    have one column per year of the range and a last ``Total`` column; tables per year have one
    row per year. ``percentages[i]`` is row i's share of the table's total (its last column),
    one decimal, half rounded up; None when the table is empty. ``change_five_years`` (tables
    per year only, ranges of ten years or more) holds, per column, the count of the last five
    years minus the count of the five before, and ``change_five_years_percent`` that change
    relative to the earlier window (None where the earlier window is zero).
    """

    key: str
    family: int
    register: str
    title: str
    row_header: str
    columns: list[str]
    rows: list[Row]
    totals: list[int]
    percentages: list[float | None] | None = None
    change_five_years: Row | None = None
    change_five_years_percent: list[float | None] | None = None
    category_count: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def register_label(self) -> str:
        return REGISTER_LABELS[self.register]

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["register_label"] = self.register_label
        data["definition_version"] = DEFINITION_VERSION
        return data


# ---------------------------------------------------------------------------- arithmetic


def share(count: int, total: int) -> float | None:
    """``count`` as a percentage of ``total``, one decimal, half rounded up (6.25 → 6.3)."""
    if not total:
        return None
    return float((Decimal(count) * 100 / Decimal(total)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def five_year_windows(year_from: int, year_to: int) -> tuple[range, range] | None:
    """(earlier, recent): the five years before the last five, and the last five, of the range;
    None when the range has fewer than ten years."""
    if year_to - year_from + 1 < 10:
        return None
    return range(year_to - 9, year_to - 4), range(year_to - 4, year_to + 1)


def _column_totals(rows: Sequence[Row], width: int) -> list[int]:
    return [sum(row.counts[i] for row in rows) for i in range(width)]


def year_table(
    *,
    key: str,
    family: int,
    register: str,
    title: str,
    columns: list[str],
    counts: dict[int, list[int]] | dict[int, int],
    years: range,
    with_percentages: bool = True,
) -> Table:
    """Rows are the years of the range (a year with nothing is a row of zeros)."""
    width = len(columns)

    def counts_of(year: int) -> list[int]:
        value = counts.get(year, 0 if width == 1 else [0] * width)
        return [value] if isinstance(value, int) else list(value)

    rows = [Row(label=str(year), key=str(year), counts=counts_of(year)) for year in years]
    totals = _column_totals(rows, width)
    percentages = [share(row.counts[-1], totals[-1]) for row in rows] if with_percentages else None
    change = change_percent = None
    if windows := five_year_windows(years.start, years.stop - 1):
        earlier, recent = windows
        before = [sum(counts_of(year)[i] for year in earlier) for i in range(width)]
        after = [sum(counts_of(year)[i] for year in recent) for i in range(width)]
        change = Row(
            label=f"{CHANGE_LABEL} ({recent[0]} a {recent[-1]} frente a {earlier[0]} a {earlier[-1]})",
            key=CHANGE_KEY,
            counts=[a - b for a, b in zip(after, before, strict=True)],
        )
        change_percent = [share(a - b, b) for a, b in zip(after, before, strict=True)]
    return Table(
        key=key,
        family=family,
        register=register,
        title=title,
        row_header="Año",
        columns=columns,
        rows=rows,
        totals=totals,
        percentages=percentages,
        change_five_years=change,
        change_five_years_percent=change_percent,
    )


def category_table(
    *,
    key: str,
    family: int,
    register: str,
    title: str,
    row_header: str,
    categories: Iterable[tuple[object, str]],
    counts: dict[tuple[object, int], int],
    years: range,
    row_key=str,
) -> Table:
    """Rows are ``categories`` (each one, even when zero), columns the years and a Total.

    Raises ValueError if the data hold a category the table has no row for: a count is never
    silently dropped (the database's check constraints keep every stored value in its choices,
    so this is a definition bug, not a data problem)."""
    categories = list(categories)
    uncounted = {category for category, _year in counts} - {category for category, _label in categories}
    if uncounted:
        raise ValueError(f"Tabla {key}: valores sin fila {sorted(map(str, uncounted))}.")
    rows = []
    for category, label in categories:
        by_year = [counts.get((category, year), 0) for year in years]
        rows.append(Row(label=str(label), key=row_key(category), counts=[*by_year, sum(by_year)]))
    columns = [str(year) for year in years] + [TOTAL_COLUMN]
    totals = _column_totals(rows, len(columns))
    return Table(
        key=key,
        family=family,
        register=register,
        title=title,
        row_header=row_header,
        columns=columns,
        rows=rows,
        totals=totals,
        percentages=[share(row.counts[-1], totals[-1]) for row in rows],
    )


PEOPLE = Count("*")  # a population has one row per person (stats.populations): rows are people


def _grouped(queryset: QuerySet, *, by_category: bool = False, **counts) -> dict:
    """{(category, year): n} (or {year: n}) from ``queryset`` grouped in the database by its
    ``year`` (and ``category``) annotations; with several counts, n is the list of them."""
    fields = ["category", "year"] if by_category else ["year"]
    names = list(counts)
    result = {}
    for row in queryset.values(*fields).annotate(**counts).order_by():
        value = row[names[0]] if len(names) == 1 else [row[name] for name in names]
        result[(row["category"], row["year"]) if by_category else row["year"]] = value
    return result


# ---------------------------------------------------------------------------- expressions


def termination_group(prefix: str = ""):
    """TerminationType → the four MITP groups (cases.constants.TERMINATION_GROUP), in SQL."""
    return Switch(
        *[When(**{f"{prefix}termination_type": t}, then=Value(g.value)) for t, g in TERMINATION_GROUP.items()],
        default=Value(TerminationGroup.OTHER.value),
        output_field=CharField(),
    )


def case_outcome():
    return Switch(
        When(status=CaseStatus.CLOSED, then=termination_group()),
        default=Value(NO_TERMINATION),
        output_field=CharField(),
    )


NNA_CONDITION = Switch(
    When(is_minor=True, then=Value("nna")),
    When(is_minor=False, then=Value("adulto")),
    default=Value("edad_desconocida"),
    output_field=CharField(),
)


# ---------------------------------------------------------------------------- populations


def _nationality_categories(counts: dict[tuple[str, int], int]) -> list[tuple[str, str]]:
    """Every nationality present, most frequent first (ties by name), and "sin información" last
    (always present). Names in Spanish."""
    totals: Counter[str] = Counter()
    for (code, _year), n in counts.items():
        totals[code or ""] += n
    known = [(code, str(countries.name(code)) or code) for code in totals if code]
    known.sort(key=lambda item: (-totals[item[0]], item[1]))
    return [*known, ("", UNKNOWN_LABEL)]


def _nationality_table(*, key, family, register, title, counts, years) -> Table:
    counts = {((code or ""), year): n for (code, year), n in counts.items()}
    categories = _nationality_categories(counts)
    table = category_table(
        key=key,
        family=family,
        register=register,
        title=title,
        row_header="Nacionalidad",
        categories=categories,
        counts=counts,
        years=years,
        row_key=lambda code: code or UNKNOWN_KEY,
    )
    distinct = len(categories) - 1
    return dataclasses.replace(
        table,
        category_count=distinct,
        notes=[
            f"{distinct} {'nacionalidad distinta' if distinct == 1 else 'nacionalidades distintas'}"
            f" (sin contar «{UNKNOWN_LABEL}»)."
        ],
    )


# ---------------------------------------------------------------------------- families


def _family_1(facts: CaseFacts, reg: str) -> list[Table]:
    noun = "formalizadas" if reg == Register.FORMALISED else "identificadas"
    return [
        year_table(
            key="casos_por_anio",
            family=1,
            register=reg,
            title=f"Causas {noun} por año",
            columns=["Causas"],
            counts=_grouped(facts.cases(), n=Count("pk")),
            years=facts.years,
        )
    ]


def _family_2(facts: CaseFacts, reg: str) -> list[Table]:
    counts = _grouped(facts.cases().annotate(category=F("status")), by_category=True, n=Count("pk"))
    order = [CaseStatus.CLOSED, CaseStatus.SUSPENDED, CaseStatus.OPEN]
    return [
        category_table(
            key="casos_por_estado",
            family=2,
            register=reg,
            title="Causas por estado",
            row_header="Estado",
            categories=[(s.value, s.label) for s in order],
            counts=counts,
            years=facts.years,
        )
    ]


def _family_3(facts: CaseFacts, reg: str) -> list[Table]:
    closed = facts.cases(Q(status=CaseStatus.CLOSED))
    by_group = _grouped(closed.annotate(category=termination_group()), by_category=True, n=Count("pk"))
    by_type = _grouped(closed.annotate(category=F("termination_type")), by_category=True, n=Count("pk"))
    return [
        category_table(
            key="terminos_por_grupo",
            family=3,
            register=reg,
            title="Causas terminadas por tipo de término (grupos MITP)",
            row_header="Tipo de término",
            categories=[(g.value, g.label) for g in TerminationGroup],
            counts=by_group,
            years=facts.years,
        ),
        category_table(
            key="terminos_por_tipo",
            family=3,
            register=reg,
            title="Causas terminadas por tipo de término (detalle, incluido archivo provisional)",
            row_header="Tipo de término",
            categories=[(t.value, t.label) for t in TerminationType],
            counts=by_type,
            years=facts.years,
        ),
    ]


def _family_4(facts: CaseFacts, reg: str) -> list[Table]:
    victims = facts.people(VICTIMS)
    return [
        year_table(
            key="victimas_por_anio",
            family=4,
            register=reg,
            title="Víctimas por año",
            columns=["Víctimas"],
            counts=_grouped(victims, n=PEOPLE),
            years=facts.years,
        ),
        category_table(
            key="victimas_por_fin",
            family=4,
            register=reg,
            title="Víctimas por fin de explotación",
            row_header="Fin de explotación",
            categories=TraffickingPurpose.choices,
            counts=_grouped(victims.annotate(category=F("purpose")), by_category=True, n=PEOPLE),
            years=facts.years,
        ),
    ]


def _by_sex(facts: CaseFacts, reg: str, *, key: str, family: int, title: str, population: str = VICTIMS) -> Table:
    victims = facts.people(population).annotate(category=F("sex"))
    return category_table(
        key=key,
        family=family,
        register=reg,
        title=title,
        row_header="Sexo",
        categories=Sex.choices,
        counts=_grouped(victims, by_category=True, n=PEOPLE),
        years=facts.years,
    )


def _family_5(facts: CaseFacts, reg: str) -> list[Table]:
    return [_by_sex(facts, reg, key="victimas_por_sexo", family=5, title="Víctimas por sexo")]


def _family_6(facts: CaseFacts, reg: str) -> list[Table]:
    victims = facts.people(VICTIMS).annotate(category=F("nationality"))
    counts = _grouped(victims, by_category=True, n=PEOPLE)
    return [
        _nationality_table(
            key="victimas_por_nacionalidad",
            family=6,
            register=reg,
            title="Víctimas por nacionalidad",
            counts=counts,
            years=facts.years,
        )
    ]


def _family_7(facts: CaseFacts, reg: str) -> list[Table]:
    # The population's region is the fiscalía regional or the region detected, by register
    # (stats.populations).
    if facts.register.by_fiscalia:
        choices, header, title = FiscaliaRegional.choices, "Fiscalía regional", "Víctimas por fiscalía regional"
    else:
        choices, header, title = Region.choices, "Región de detección", "Víctimas por región de detección"
    victims = facts.people(VICTIMS).annotate(category=F("region"))
    return [
        category_table(
            key="victimas_por_region",
            family=7,
            register=reg,
            title=title,
            row_header=header,
            categories=choices,
            counts=_grouped(victims, by_category=True, n=PEOPLE),
            years=facts.years,
        )
    ]


def _family_8(facts: CaseFacts, reg: str) -> list[Table]:
    offenders = facts.people(OFFENDERS)
    per_year = _grouped(
        offenders,
        imputados=PEOPLE,
        formalizados=Count("year", filter=Q(formalised=True)),
        condenados=Count("year", filter=Q(convicted=True)),
    )
    convicted = offenders.filter(convicted=True).annotate(category=F("nationality"))
    return [
        year_table(
            key="imputados_por_anio",
            family=8,
            register=reg,
            title="Imputados por año: total, formalizados y condenados",
            columns=["Imputados", "Formalizados", "Condenados"],
            counts=per_year,
            years=facts.years,
            with_percentages=False,
        ),
        _nationality_table(
            key="condenados_por_nacionalidad",
            family=8,
            register=reg,
            title="Condenados por nacionalidad",
            counts=_grouped(convicted, by_category=True, n=PEOPLE),
            years=facts.years,
        ),
    ]


def _purpose_family(facts: CaseFacts, reg: str, *, family: int, purpose: str, slug: str, name: str) -> list[Table]:
    cases = facts.cases(Q(purpose=purpose))
    population = {TraffickingPurpose.SEXUAL: SEXUAL, TraffickingPurpose.LABOUR: LABOUR}[purpose]
    victims = facts.people(population)
    outcomes = [(g.value, g.label) for g in TerminationGroup] + [(NO_TERMINATION, "Sin término (vigente o suspendida)")]
    return [
        year_table(
            key=f"{slug}_casos_por_anio",
            family=family,
            register=reg,
            title=f"{name}: causas por año",
            columns=["Causas"],
            counts=_grouped(cases, n=Count("pk")),
            years=facts.years,
        ),
        year_table(
            key=f"{slug}_victimas_por_anio",
            family=family,
            register=reg,
            title=f"{name}: víctimas por año",
            columns=["Víctimas"],
            counts=_grouped(victims, n=PEOPLE),
            years=facts.years,
        ),
        _by_sex(
            facts,
            reg,
            key=f"{slug}_victimas_por_sexo",
            family=family,
            title=f"{name}: víctimas por sexo",
            population=population,
        ),
        category_table(
            key=f"{slug}_casos_por_resultado",
            family=family,
            register=reg,
            title=f"{name}: causas por resultado",
            row_header="Resultado",
            categories=outcomes,
            counts=_grouped(cases.annotate(category=case_outcome()), by_category=True, n=Count("pk")),
            years=facts.years,
        ),
    ]


def _family_9(facts: CaseFacts, reg: str) -> list[Table]:
    return _purpose_family(
        facts, reg, family=9, purpose=TraffickingPurpose.SEXUAL, slug="trata_sexual", name="Trata con fines sexuales"
    )


def _family_10(facts: CaseFacts, reg: str) -> list[Table]:
    return _purpose_family(
        facts, reg, family=10, purpose=TraffickingPurpose.LABOUR, slug="trata_laboral", name="Trata con fines laborales"
    )


def _family_11(facts: CaseFacts, reg: str) -> list[Table]:
    with_minor = Exists(CaseVictim.objects.filter(case_id=OuterRef("pk"), is_minor=True))
    victims = facts.people(NNA)
    ages = [(age, f"{age} años" if age != 1 else "1 año") for age in range(ADULT_AGE)]
    ages.append((EXACT_AGE_UNKNOWN, "Menor de edad, edad exacta desconocida"))
    conditions = [
        ("nna", "NNA (menor de 18 años)"),
        ("adulto", "Mayor de 18 años"),
        ("edad_desconocida", "Edad desconocida"),
    ]
    return [
        year_table(
            key="nna_casos_por_anio",
            family=11,
            register=reg,
            title="Causas con víctimas NNA por año",
            columns=["Causas"],
            counts=_grouped(facts.cases(Q(with_minor)), n=Count("pk")),
            years=facts.years,
        ),
        year_table(
            key="nna_victimas_por_anio",
            family=11,
            register=reg,
            title="Víctimas NNA por año",
            columns=["Víctimas"],
            counts=_grouped(victims, n=PEOPLE),
            years=facts.years,
        ),
        category_table(
            key="nna_victimas_por_edad",
            family=11,
            register=reg,
            title="Víctimas NNA por edad a la fecha de los hechos",
            row_header="Edad",
            categories=ages,
            counts=_grouped(victims.annotate(category=F("nna_age")), by_category=True, n=PEOPLE),
            years=facts.years,
            row_key=lambda age: "edad_exacta_desconocida" if age == EXACT_AGE_UNKNOWN else str(age),
        ),
        _by_sex(facts, reg, key="nna_victimas_por_sexo", family=11, title="Víctimas NNA por sexo", population=NNA),
        category_table(
            key="nna_victimas_por_fin",
            family=11,
            register=reg,
            title="Víctimas NNA por fin de explotación",
            row_header="Fin de explotación",
            categories=TraffickingPurpose.choices,
            counts=_grouped(victims.annotate(category=F("purpose")), by_category=True, n=PEOPLE),
            years=facts.years,
        ),
        category_table(
            key="victimas_por_condicion_nna",
            family=11,
            register=reg,
            title="Víctimas según edad a la fecha de los hechos (NNA, mayores, edad desconocida)",
            row_header="Edad a la fecha de los hechos",
            categories=conditions,
            counts=_grouped(facts.people(VICTIMS).annotate(category=NNA_CONDITION), by_category=True, n=PEOPLE),
            years=facts.years,
        ),
    ]


CASE_FAMILIES = {
    1: _family_1,
    2: _family_2,
    3: _family_3,
    4: _family_4,
    5: _family_5,
    6: _family_6,
    7: _family_7,
    8: _family_8,
    9: _family_9,
    10: _family_10,
    11: _family_11,
}


def _protocol_tables(year_from: int, year_to: int) -> list[Table]:
    """Family 12, from protocol.statistics (one query): people who entered the protocol, each
    once in the year of their first entry in the range, per year (beside all entries, re-entries
    included), by purpose, sex and nationality. Summed here over its aggregated rows (one per
    combination present)."""
    years = range(year_from, year_to + 1)
    rows = protocol_entries_by(year_from=year_from, year_to=year_to)
    per_year: dict[int, list[int]] = {}
    by: dict[str, Counter] = {"purpose": Counter(), "sex": Counter(), "nationality": Counter()}
    for row in rows:
        entries, persons = per_year.setdefault(row["year"], [0, 0])
        per_year[row["year"]] = [entries + row["entries"], persons + row["persons"]]
        if row["persons"]:
            for field in by:
                by[field][(row[field], row["year"])] += row["persons"]
    reg = Register.PROTOCOL
    common = {"family": 12, "register": reg, "years": years}
    return [
        year_table(
            key="protocolo_ingresos_por_anio",
            title="Ingresos al protocolo por año: ingresos y personas",
            # Percentages are of the last column: people, the MITP's figure.
            columns=["Ingresos", "Personas"],
            counts=per_year,
            **common,
        ),
        category_table(
            key="protocolo_ingresos_por_fin",
            title="Personas ingresadas al protocolo por fin de explotación",
            row_header="Fin de explotación",
            categories=TraffickingPurpose.choices,
            counts=dict(by["purpose"]),
            **common,
        ),
        category_table(
            key="protocolo_ingresos_por_sexo",
            title="Personas ingresadas al protocolo por sexo",
            row_header="Sexo",
            categories=Sex.choices,
            counts=dict(by["sex"]),
            **common,
        ),
        _nationality_table(
            key="protocolo_ingresos_por_nacionalidad",
            title="Personas ingresadas al protocolo por nacionalidad",
            counts=dict(by["nationality"]),
            **common,
        ),
    ]


def compute_tables(*, year_from: int, year_to: int, registers: Sequence[str] = REGISTERS) -> list[Table]:
    """Every table of every family that applies to each of ``registers``, for the years
    ``year_from``..``year_to`` (inclusive), in register then family order.

    Raises ValueError for an unknown register or an empty range. Reads only statistical fields.
    """
    unknown = [reg for reg in registers if reg not in REGISTERS]
    if unknown:
        raise ValueError(f"Registro desconocido: {', '.join(unknown)}.")
    if year_from > year_to:
        raise ValueError("El año inicial no puede ser posterior al año final.")
    tables: list[Table] = []
    with translation.override(settings.LANGUAGE_CODE):
        for reg in REGISTERS:  # a fixed order, whatever order the caller gave
            if reg not in registers:
                continue
            if reg == Register.PROTOCOL:
                tables.extend(_protocol_tables(year_from, year_to))
                continue
            facts = CaseFacts(CASE_REGISTERS[reg], year_from, year_to)
            with counted_people(facts):
                for family in REGISTER_FAMILIES[reg]:
                    tables.extend(CASE_FAMILIES[family](facts, reg))
    return tables
