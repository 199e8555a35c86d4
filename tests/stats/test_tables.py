"""The MITP tables against a small, hand-counted world (stats.tables, docs/statistics.md).

The world, years 2014-2023 (ten years: the five-year change compares 2019-2023 with 2014-2018):

case  intake      investigation start  formalised  status / termination      purpose  region     fiscalía
C1    2015-03-01  2014-06-01           yes         terminada, condenatoria   sexual   Tarapacá   Tarapacá
C2    2020-02-01  2019-12-01           yes         terminada, archivo prov.  laboral  RM         RM Sur
C3    2022-05-01  -                    no          vigente                   sexual   unknown    unknown
C4    2023-01-10  2023-01-05           yes         suspendida                unknown  unknown    Antofagasta
C5    2013-05-01  2013-04-01           yes         vigente                   sexual   Tarapacá   Tarapacá   (outside)
C6    2014-01-10  2013-12-01           yes         terminada, absolutoria    laboral  Biobío     RM Oriente

victim  sex      nationality  links (age at facts, link purpose, link region)
V1      F        BO           C1 (16, sexual, Tarapacá), C2 (19, laboral, RM)
V2      M        unknown      C2 (age unknown, purpose unknown → case's, region unknown → case's)
V3      unknown  PE           C3 (minor, exact age unknown, sexual)
V4      F        CL           C4 (5, unknown, unknown: the case's are unknown too)
V5      F        BO           C5 (22), C4 (30, sexual, Antofagasta)
V6      M        AR           C6 (17, unknown → case's laboral)
V7      F        CO           C5 only (outside the range everywhere)

offender  nationality  links
O1        CL           C1 (formalised, convicted), C2 (neither)
O2        PE           C2 (formalised)
O3        unknown      C1 (formalised, convicted)
O4        AR           C3 (neither)

Protocol: V1 entered 2016 (purpose sexual: tie between her sexual and labour links, broken by
name), V8 (F, VE, no case) entered 2020; V9 asked in 2021 but was never activated; V10 entered
in 2012 (outside).
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.constants import CaseStatus, TerminationType, TraffickingPurpose
from cases.models import CaseOffender
from kernel.choices import FiscaliaRegional, Region, Sex
from protocol.constants import ActivationAction, ActivationState, RequestedBy
from protocol.models import ProtocolActivation
from protocol.services import activation_open, activation_transition
from stats.tables import DEFINITION_VERSION, REGISTER_LABELS, REGISTERS, Table, compute_tables, share
from tests.factories import CaseFactory, OffenderFactory, VictimFactory
from victims.constants import AgeStatus
from victims.models import CaseVictim

pytestmark = pytest.mark.django_db

D = datetime.date
FROM, TO = 2014, 2023
YEARS = [str(year) for year in range(FROM, TO + 1)]
SEXUAL, LABOUR, UNKNOWN_PURPOSE = TraffickingPurpose.SEXUAL, TraffickingPurpose.LABOUR, TraffickingPurpose.UNKNOWN


def link(case, victim, *, age=None, minor_unknown=False, purpose=UNKNOWN_PURPOSE, region=Region.UNKNOWN):
    status = AgeStatus.KNOWN if age is not None else AgeStatus.UNKNOWN
    if minor_unknown:
        status = AgeStatus.MINOR_UNKNOWN
    return CaseVictim.objects.create(
        case=case, victim=victim, age_status=status, age_at_facts=age, purpose=purpose, region_detected=region
    )


def closed(termination_type, on):
    return {"status": CaseStatus.CLOSED, "termination_type": termination_type, "termination_date": on}


def formalised(start, on):
    return {"is_formalised": True, "investigation_start_date": start, "formalised_date": on}


def build_world(institution, officer, *, copies: int = 1) -> None:
    """The world of the module docstring (``copies`` > 1 repeats it, for the query-count test)."""
    for _ in range(copies):
        lead = {"lead_institution": institution}
        c1 = CaseFactory(
            intake_date=D(2015, 3, 1),
            **formalised(D(2014, 6, 1), D(2014, 7, 1)),
            **closed(TerminationType.CONVICTION, D(2016, 1, 1)),
            purpose=SEXUAL,
            region_detected=Region.TARAPACA,
            fiscalia_regional=FiscaliaRegional.TARAPACA,
            **lead,
        )
        c2 = CaseFactory(
            intake_date=D(2020, 2, 1),
            **formalised(D(2019, 12, 1), D(2020, 3, 1)),
            **closed(TerminationType.PROVISIONAL_ARCHIVE, D(2021, 1, 1)),
            purpose=LABOUR,
            region_detected=Region.METROPOLITANA,
            fiscalia_regional=FiscaliaRegional.RM_SUR,
            **lead,
        )
        c3 = CaseFactory(
            intake_date=D(2022, 5, 1),
            purpose=SEXUAL,
            region_detected=Region.UNKNOWN,
            fiscalia_regional=FiscaliaRegional.UNKNOWN,
            **lead,
        )
        c4 = CaseFactory(
            intake_date=D(2023, 1, 10),
            **formalised(D(2023, 1, 5), D(2023, 2, 1)),
            status=CaseStatus.SUSPENDED,
            purpose=UNKNOWN_PURPOSE,
            region_detected=Region.UNKNOWN,
            fiscalia_regional=FiscaliaRegional.ANTOFAGASTA,
            **lead,
        )
        c5 = CaseFactory(
            intake_date=D(2013, 5, 1),
            **formalised(D(2013, 4, 1), D(2013, 5, 1)),
            purpose=SEXUAL,
            region_detected=Region.TARAPACA,
            fiscalia_regional=FiscaliaRegional.TARAPACA,
            **lead,
        )
        c6 = CaseFactory(
            intake_date=D(2014, 1, 10),
            **formalised(D(2013, 12, 1), D(2014, 2, 1)),
            **closed(TerminationType.ACQUITTAL, D(2015, 6, 1)),
            purpose=LABOUR,
            region_detected=Region.BIOBIO,
            fiscalia_regional=FiscaliaRegional.RM_ORIENTE,
            **lead,
        )
        person = {"registering_institution": institution}
        v1 = VictimFactory(sex=Sex.FEMALE, nationality="BO", **person)
        v2 = VictimFactory(sex=Sex.MALE, nationality="", **person)
        v3 = VictimFactory(sex=Sex.UNKNOWN, nationality="PE", **person)
        v4 = VictimFactory(sex=Sex.FEMALE, nationality="CL", **person)
        v5 = VictimFactory(sex=Sex.FEMALE, nationality="BO", **person)
        v6 = VictimFactory(sex=Sex.MALE, nationality="AR", **person)
        v7 = VictimFactory(sex=Sex.FEMALE, nationality="CO", **person)
        link(c1, v1, age=16, purpose=SEXUAL, region=Region.TARAPACA)
        link(c2, v1, age=19, purpose=LABOUR, region=Region.METROPOLITANA)
        link(c2, v2)
        link(c3, v3, minor_unknown=True, purpose=SEXUAL)
        link(c4, v4, age=5)
        link(c5, v5, age=22, purpose=SEXUAL, region=Region.TARAPACA)
        link(c4, v5, age=30, purpose=SEXUAL, region=Region.ANTOFAGASTA)
        link(c6, v6, age=17)
        link(c5, v7, age=25, purpose=SEXUAL)
        o1, o2 = OffenderFactory(nationality="CL"), OffenderFactory(nationality="PE")
        o3, o4 = OffenderFactory(nationality=""), OffenderFactory(nationality="AR")
        convicted = {"is_formalised": True, "is_convicted": True, "sentence_date": D(2016, 1, 1)}
        CaseOffender.objects.create(case=c1, offender=o1, **convicted)
        CaseOffender.objects.create(case=c2, offender=o1)
        CaseOffender.objects.create(case=c2, offender=o2, is_formalised=True)
        CaseOffender.objects.create(case=c1, offender=o3, **convicted)
        CaseOffender.objects.create(case=c3, offender=o4)

        enter_protocol(officer, v1, D(2016, 1, 1))
        returning = VictimFactory(sex=Sex.FEMALE, nationality="VE", **person)
        enter_protocol(officer, returning, D(2020, 5, 1))
        enter_protocol(officer, returning, D(2021, 8, 1))  # enters again: one person, two entries
        enter_protocol(officer, VictimFactory(sex=Sex.MALE, nationality="", **person), D(2021, 3, 1), active=False)
        enter_protocol(officer, VictimFactory(sex=Sex.UNKNOWN, nationality="PE", **person), D(2012, 3, 1))


def enter_protocol(officer, victim, on, *, active=True):
    """An activation requested on ``on``, active unless told not; a victim's earlier open one is
    closed first (one open activation per victim)."""
    for open_one in ProtocolActivation.objects.filter(victim=victim, state=ActivationState.ACTIVE):
        activation_transition(actor=officer, activation_id=open_one.pk, action=ActivationAction.CLOSE, note="Egreso.")
    activation = activation_open(
        actor=officer, victim_id=victim.pk, requested_by=RequestedBy.VICTIM, requested_on=on, consent_on=on
    )
    activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.EVALUATE)
    if active:
        activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.ACTIVATE)


@pytest.fixture
def tables(institution, officer) -> dict[tuple[str, str], Table]:
    build_world(institution, officer)
    return {(table.register, table.key): table for table in compute_tables(year_from=FROM, year_to=TO)}


def by_row(table: Table) -> dict[str, int]:
    """Each row's total (the last column) by row key; zero rows left out, for brevity."""
    return {row.key: row.counts[-1] for row in table.rows if row.counts[-1]}


def by_year(table: Table, column: int = -1) -> dict[str, int]:
    return {row.key: row.counts[column] for row in table.rows if row.counts[column]}


def cell(table: Table, row_key: str, year: int) -> int:
    row = next(row for row in table.rows if row.key == row_key)
    return row.counts[table.columns.index(str(year))]


def pct(table: Table) -> dict[str, float]:
    return {row.key: p for row, p in zip(table.rows, table.percentages, strict=True) if row.counts[-1]}


FORMAL, IDENT, PROT = "formalizadas", "identificadas", "protocolo"


# ------------------------------------------------------------------------------ the contract


def test_every_register_gets_the_families_that_apply_to_it(tables):
    families = {reg: sorted({t.family for (r, _), t in tables.items() if r == reg}) for reg in REGISTERS}
    assert families == {FORMAL: list(range(1, 12)), IDENT: list(range(1, 12)), PROT: [12]}
    assert REGISTERS == (FORMAL, IDENT, PROT)
    assert REGISTER_LABELS[PROT] == "Ingresos al Protocolo de Atención"


def test_a_table_is_json_ready_with_its_rows_totals_and_definition_version(tables):
    data = tables[(FORMAL, "casos_por_anio")].as_dict()
    assert data["register_label"] == "Causas formalizadas"
    assert data["definition_version"] == DEFINITION_VERSION
    assert data["rows"][0] == {"label": "2014", "key": "2014", "counts": [1]}
    assert data["totals"] == [3]


def test_category_tables_have_a_column_per_year_and_a_total_that_adds_up(tables):
    for table in tables.values():
        assert len(table.totals) == len(table.columns)
        for row in table.rows:
            assert len(row.counts) == len(table.columns)
        if table.columns[-1] == "Total":
            assert table.columns[:-1] == YEARS
            assert all(sum(row.counts[:-1]) == row.counts[-1] for row in table.rows)
        assert table.totals == [sum(row.counts[i] for row in table.rows) for i in range(len(table.columns))]


# ------------------------------------------------------------------------------ family 1


def test_formalised_cases_are_counted_in_the_year_their_investigation_started(tables):
    table = tables[(FORMAL, "casos_por_anio")]
    # C6 started in 2013 (outside), C3 is not formalised, C5 is outside the range.
    assert by_year(table) == {"2014": 1, "2019": 1, "2023": 1}
    assert [row.key for row in table.rows] == YEARS  # a year with nothing is a row of zeros
    assert pct(table) == {"2014": 33.3, "2019": 33.3, "2023": 33.3}


def test_identified_cases_are_counted_in_their_intake_year(tables):
    table = tables[(IDENT, "casos_por_anio")]
    assert by_year(table) == {"2014": 1, "2015": 1, "2020": 1, "2022": 1, "2023": 1}
    assert table.totals == [5]
    assert set(pct(table).values()) == {20.0}


def test_the_five_year_change_compares_the_last_five_years_with_the_five_before(tables):
    formalised_cases = tables[(FORMAL, "casos_por_anio")]
    assert formalised_cases.change_five_years.counts == [1]  # 2019-2023: 2, 2014-2018: 1
    assert formalised_cases.change_five_years_percent == [100.0]
    assert formalised_cases.change_five_years.label.startswith("Cambio en los últimos cinco años")
    assert "2019 a 2023 frente a 2014 a 2018" in formalised_cases.change_five_years.label
    identified_cases = tables[(IDENT, "casos_por_anio")]
    assert identified_cases.change_five_years.counts == [1]  # 3 against 2
    assert identified_cases.change_five_years_percent == [50.0]


def test_the_five_year_change_is_absent_for_a_range_shorter_than_ten_years(institution, officer):
    build_world(institution, officer)
    table = next(
        t for t in compute_tables(year_from=2015, year_to=2023, registers=[FORMAL]) if t.key == "casos_por_anio"
    )
    assert table.change_five_years is None
    assert table.change_five_years_percent is None


def test_the_five_year_change_of_protocol_entries_and_its_percentage(institution, officer):
    build_world(institution, officer)
    table = next(t for t in compute_tables(year_from=2014, year_to=2023, registers=[PROT]) if t.family == 12)
    # Entries: one in 2016 (2014-2018), two in 2020-2021 (2019-2023): +1, +100 %. People: one
    # in each window, no change.
    assert table.change_five_years.counts == [1, 0]
    assert table.change_five_years_percent == [100.0, 0.0]
    later = next(t for t in compute_tables(year_from=2016, year_to=2025, registers=[PROT]) if t.family == 12)
    # 2016-2020 held two entries of two people, 2021-2025 the re-entry (not a new person).
    assert later.change_five_years.counts == [-1, -2]
    assert later.change_five_years_percent == [-50.0, -100.0]


def test_the_five_year_change_percentage_is_none_when_the_earlier_window_is_zero():
    from stats.tables import year_table

    table = year_table(
        key="k", family=1, register=FORMAL, title="t", columns=["Causas"], counts={2022: 3}, years=range(2014, 2024)
    )
    assert table.change_five_years.counts == [3]
    assert table.change_five_years_percent == [None]


# ------------------------------------------------------------------------------ families 2 and 3


def test_cases_by_status(tables):
    formalised_status = tables[(FORMAL, "casos_por_estado")]
    assert [row.key for row in formalised_status.rows] == ["terminada", "suspendida", "vigente"]
    assert by_row(formalised_status) == {"terminada": 2, "suspendida": 1}
    assert cell(formalised_status, "terminada", 2014) == 1 and cell(formalised_status, "terminada", 2019) == 1
    assert formalised_status.percentages == [66.7, 33.3, 0.0]
    identified_status = tables[(IDENT, "casos_por_estado")]
    assert by_row(identified_status) == {"terminada": 3, "suspendida": 1, "vigente": 1}
    assert identified_status.percentages == [60.0, 20.0, 20.0]


def test_closed_cases_by_the_four_mitp_groups_and_by_type_with_provisional_archive(tables):
    groups = tables[(FORMAL, "terminos_por_grupo")]
    assert [row.key for row in groups.rows] == ["condenatoria", "absolutoria", "no_perseverar", "otros"]
    assert by_row(groups) == {"condenatoria": 1, "otros": 1}
    assert groups.percentages == [50.0, 0.0, 0.0, 50.0]
    assert by_row(tables[(FORMAL, "terminos_por_tipo")]) == {"condenatoria": 1, "archivo_provisional": 1}
    assert by_row(tables[(IDENT, "terminos_por_grupo")]) == {"condenatoria": 1, "absolutoria": 1, "otros": 1}
    assert cell(tables[(IDENT, "terminos_por_grupo")], "absolutoria", 2014) == 1
    assert len(tables[(IDENT, "terminos_por_tipo")].rows) == len(TerminationType)


# ------------------------------------------------------------------------------ family 4


def test_a_victim_in_two_cases_of_the_range_is_counted_once_in_the_earliest_cases_year(tables):
    formalised_victims = tables[(FORMAL, "victimas_por_anio")]
    # V1 (C1 2014 and C2 2019) only in 2014; V5's other case C5 is outside the range.
    assert by_year(formalised_victims) == {"2014": 1, "2019": 1, "2023": 2}
    assert formalised_victims.totals == [4]
    assert pct(formalised_victims) == {"2014": 25.0, "2019": 25.0, "2023": 50.0}
    assert formalised_victims.change_five_years.counts == [2]
    assert formalised_victims.change_five_years_percent == [200.0]
    identified_victims = tables[(IDENT, "victimas_por_anio")]
    assert by_year(identified_victims) == {"2014": 1, "2015": 1, "2020": 1, "2022": 1, "2023": 2}
    assert pct(identified_victims) == {"2014": 16.7, "2015": 16.7, "2020": 16.7, "2022": 16.7, "2023": 33.3}


def test_victims_by_purpose_use_the_link_then_the_case_and_keep_unknown(tables):
    formalised_purpose = tables[(FORMAL, "victimas_por_fin")]
    # V1 at C1 sexual; V2 unknown on the link → C2's labour; V4 unknown on both; V5 sexual.
    assert by_row(formalised_purpose) == {SEXUAL: 2, LABOUR: 1, UNKNOWN_PURPOSE: 1}
    assert [row.key for row in formalised_purpose.rows][-1] == UNKNOWN_PURPOSE
    assert by_row(tables[(IDENT, "victimas_por_fin")]) == {SEXUAL: 3, LABOUR: 2, UNKNOWN_PURPOSE: 1}


# ------------------------------------------------------------------------------ families 5, 6, 7


def test_victims_by_sex_with_unknown_sex_a_row_of_its_own(tables):
    formalised_sex = tables[(FORMAL, "victimas_por_sexo")]
    assert [row.key for row in formalised_sex.rows] == ["femenino", "masculino", "sin_informacion"]
    assert by_row(formalised_sex) == {"femenino": 3, "masculino": 1}
    assert formalised_sex.percentages == [75.0, 25.0, 0.0]
    identified_sex = tables[(IDENT, "victimas_por_sexo")]
    assert by_row(identified_sex) == {"femenino": 3, "masculino": 2, "sin_informacion": 1}
    assert identified_sex.percentages == [50.0, 33.3, 16.7]


def test_victims_by_nationality_lists_every_nationality_and_unknown_and_says_how_many(tables):
    formalised_nat = tables[(FORMAL, "victimas_por_nacionalidad")]
    assert [(row.label, row.counts[-1]) for row in formalised_nat.rows] == [
        ("Bolivia", 2),
        ("Chile", 1),
        ("Sin información", 1),
    ]
    assert formalised_nat.category_count == 2
    assert formalised_nat.percentages == [50.0, 25.0, 25.0]
    identified_nat = tables[(IDENT, "victimas_por_nacionalidad")]
    # Most frequent first, ties by Spanish name; unknown always last.
    assert [row.key for row in identified_nat.rows] == ["BO", "AR", "CL", "PE", "sin_informacion"]
    assert [row.label for row in identified_nat.rows][3] == "Perú"
    assert identified_nat.category_count == 4
    assert identified_nat.notes == ["4 nacionalidades distintas (sin contar «Sin información»)."]


def test_formalised_victims_by_region_detected_with_unknown_region(tables):
    region = tables[(FORMAL, "victimas_por_region")]
    assert region.row_header == "Región de detección"
    # V2's link has no region: C2's (RM). V4's link and case have none.
    assert by_row(region) == {"CL-TA": 1, "CL-RM": 1, "CL-AN": 1, "sin_informacion": 1}
    assert len(region.rows) == len(Region)


def test_identified_victims_by_fiscalia_regional_with_unknown_fiscalia(tables):
    region = tables[(IDENT, "victimas_por_region")]
    assert region.row_header == "Fiscalía regional"
    assert by_row(region) == {"FR-RM-OR": 1, "FR-TA": 1, "FR-RM-SU": 1, "sin_informacion": 1, "FR-AN": 2}
    assert len(region.rows) == len(FiscaliaRegional)


# ------------------------------------------------------------------------------ family 8


def test_offenders_per_year_total_formalised_and_convicted_each_counted_once(tables):
    formalised_offenders = tables[(FORMAL, "imputados_por_anio")]
    assert formalised_offenders.columns == ["Imputados", "Formalizados", "Condenados"]
    # O1 (C1 2014, C2 2019) once, in 2014; O3 in 2014; O2 in 2019; O4's case is not formalised.
    assert {row.key: row.counts for row in formalised_offenders.rows if any(row.counts)} == {
        "2014": [2, 2, 2],
        "2019": [1, 1, 0],
    }
    assert formalised_offenders.totals == [3, 3, 2]
    assert formalised_offenders.percentages is None
    assert formalised_offenders.change_five_years.counts == [-1, -1, -2]
    assert formalised_offenders.change_five_years_percent == [-50.0, -50.0, -100.0]
    identified_offenders = tables[(IDENT, "imputados_por_anio")]
    assert {row.key: row.counts for row in identified_offenders.rows if any(row.counts)} == {
        "2015": [2, 2, 2],
        "2020": [1, 1, 0],
        "2022": [1, 0, 0],
    }


def test_convicted_offenders_by_nationality_with_unknown_nationality(tables):
    convicted = tables[(FORMAL, "condenados_por_nacionalidad")]
    assert [(row.key, row.counts[-1]) for row in convicted.rows] == [("CL", 1), ("sin_informacion", 1)]
    assert cell(convicted, "CL", 2014) == 1
    assert convicted.category_count == 1
    assert convicted.percentages == [50.0, 50.0]


# ------------------------------------------------------------------------------ families 9 and 10


def test_sexual_trafficking_cases_victims_sex_and_outcome(tables):
    assert by_year(tables[(FORMAL, "trata_sexual_casos_por_anio")]) == {"2014": 1}
    assert by_year(tables[(FORMAL, "trata_sexual_victimas_por_anio")]) == {"2014": 1, "2023": 1}
    assert by_row(tables[(FORMAL, "trata_sexual_victimas_por_sexo")]) == {"femenino": 2}
    assert by_row(tables[(FORMAL, "trata_sexual_casos_por_resultado")]) == {"condenatoria": 1}
    assert by_year(tables[(IDENT, "trata_sexual_casos_por_anio")]) == {"2015": 1, "2022": 1}
    assert by_year(tables[(IDENT, "trata_sexual_victimas_por_anio")]) == {"2015": 1, "2022": 1, "2023": 1}
    assert by_row(tables[(IDENT, "trata_sexual_victimas_por_sexo")]) == {"femenino": 2, "sin_informacion": 1}
    outcome = tables[(IDENT, "trata_sexual_casos_por_resultado")]
    assert by_row(outcome) == {"condenatoria": 1, "sin_termino": 1}
    assert outcome.rows[-1].label == "Sin término (vigente o suspendida)"


def test_labour_trafficking_counts_a_victim_also_counted_in_sexual_trafficking(tables):
    # V1 was exploited sexually in C1 and for labour in C2: she is in both families, once each.
    assert by_year(tables[(FORMAL, "trata_laboral_casos_por_anio")]) == {"2019": 1}
    assert by_year(tables[(FORMAL, "trata_laboral_victimas_por_anio")]) == {"2019": 2}
    assert by_row(tables[(FORMAL, "trata_laboral_victimas_por_sexo")]) == {"femenino": 1, "masculino": 1}
    assert by_row(tables[(FORMAL, "trata_laboral_casos_por_resultado")]) == {"otros": 1}
    assert by_year(tables[(IDENT, "trata_laboral_casos_por_anio")]) == {"2014": 1, "2020": 1}
    assert by_year(tables[(IDENT, "trata_laboral_victimas_por_anio")]) == {"2014": 1, "2020": 2}
    assert by_row(tables[(IDENT, "trata_laboral_victimas_por_sexo")]) == {"femenino": 1, "masculino": 2}
    assert by_row(tables[(IDENT, "trata_laboral_casos_por_resultado")]) == {"otros": 1, "absolutoria": 1}


# ------------------------------------------------------------------------------ family 11


def test_nna_cases_and_victims_are_under_18_at_the_time_of_the_facts(tables):
    assert by_year(tables[(FORMAL, "nna_casos_por_anio")]) == {"2014": 1, "2023": 1}
    # V1 was 16 in C1 and 19 in C2: an NNA victim, counted once.
    assert by_year(tables[(FORMAL, "nna_victimas_por_anio")]) == {"2014": 1, "2023": 1}
    assert by_year(tables[(IDENT, "nna_casos_por_anio")]) == {"2014": 1, "2015": 1, "2022": 1, "2023": 1}
    assert by_year(tables[(IDENT, "nna_victimas_por_anio")]) == {"2014": 1, "2015": 1, "2022": 1, "2023": 1}


def test_nna_victims_by_exact_age_with_exact_age_unknown_its_own_row(tables):
    ages = tables[(IDENT, "nna_victimas_por_edad")]
    assert [row.key for row in ages.rows] == [*map(str, range(18)), "edad_exacta_desconocida"]
    assert ages.rows[-1].label == "Menor de edad, edad exacta desconocida"
    assert by_row(ages) == {"5": 1, "16": 1, "17": 1, "edad_exacta_desconocida": 1}
    assert cell(ages, "edad_exacta_desconocida", 2022) == 1
    assert set(pct(ages).values()) == {25.0}
    assert by_row(tables[(FORMAL, "nna_victimas_por_edad")]) == {"5": 1, "16": 1}


def test_nna_victims_by_sex_and_purpose(tables):
    assert by_row(tables[(IDENT, "nna_victimas_por_sexo")]) == {"femenino": 2, "masculino": 1, "sin_informacion": 1}
    assert by_row(tables[(IDENT, "nna_victimas_por_fin")]) == {SEXUAL: 2, LABOUR: 1, UNKNOWN_PURPOSE: 1}
    assert by_row(tables[(FORMAL, "nna_victimas_por_sexo")]) == {"femenino": 2}
    assert by_row(tables[(FORMAL, "nna_victimas_por_fin")]) == {SEXUAL: 1, UNKNOWN_PURPOSE: 1}


def test_victims_of_unknown_age_are_a_row_of_their_own_not_dropped(tables):
    # V2's age is unknown; V5 was 30 at C4 (22 at C5, outside).
    assert by_row(tables[(FORMAL, "victimas_por_condicion_nna")]) == {"nna": 2, "adulto": 1, "edad_desconocida": 1}
    assert by_row(tables[(IDENT, "victimas_por_condicion_nna")]) == {"nna": 4, "adulto": 1, "edad_desconocida": 1}


# ------------------------------------------------------------------------------ family 12


def test_protocol_entries_are_counted_in_the_year_of_activation_only_once_active(tables):
    per_year = tables[(PROT, "protocolo_ingresos_por_anio")]
    assert per_year.columns == ["Ingresos", "Personas"]
    # V9 never became active; V10's entry (2012) is outside; the Venezuelan woman entered in
    # 2020 and again in 2021: two entries, one person (in 2020).
    assert by_year(per_year, column=0) == {"2016": 1, "2020": 1, "2021": 1}
    assert by_year(per_year, column=1) == {"2016": 1, "2020": 1}
    assert pct(per_year) == {"2016": 50.0, "2020": 50.0}
    assert per_year.totals == [3, 2]
    # The tables by category count people, each once, in the year of their first entry.
    assert by_row(tables[(PROT, "protocolo_ingresos_por_fin")]) == {SEXUAL: 1, UNKNOWN_PURPOSE: 1}
    assert by_row(tables[(PROT, "protocolo_ingresos_por_sexo")]) == {"femenino": 2}
    assert cell(tables[(PROT, "protocolo_ingresos_por_sexo")], "femenino", 2021) == 0
    nationality = tables[(PROT, "protocolo_ingresos_por_nacionalidad")]
    assert [(row.label, row.counts[-1]) for row in nationality.rows] == [
        ("Bolivia", 1),
        ("Venezuela", 1),
        ("Sin información", 0),
    ]
    assert nationality.category_count == 2


# ------------------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("count", "total", "expected"),
    [(1, 16, 6.3), (1, 8, 12.5), (1, 3, 33.3), (2, 3, 66.7), (1, 6, 16.7), (3, 3, 100.0), (0, 5, 0.0), (0, 0, None)],
)
def test_percentages_are_shares_of_the_total_to_one_decimal_half_up(count, total, expected):
    assert share(count, total) == expected


def test_a_range_with_nothing_gives_tables_of_zeros_with_every_explicit_category(db):
    tables = {(t.register, t.key): t for t in compute_tables(year_from=2000, year_to=2001)}
    sex = tables[(FORMAL, "victimas_por_sexo")]
    assert [row.key for row in sex.rows] == ["femenino", "masculino", "sin_informacion"]
    assert sex.totals == [0, 0, 0]
    assert sex.percentages == [None, None, None]
    assert [row.key for row in tables[(IDENT, "victimas_por_nacionalidad")].rows] == ["sin_informacion"]


def test_only_the_registers_asked_for_are_computed(institution, officer):
    build_world(institution, officer)
    tables = compute_tables(year_from=FROM, year_to=TO, registers=[PROT, FORMAL])
    assert next(t.register for t in tables) == FORMAL  # always in register order
    assert {t.register for t in tables} == {FORMAL, PROT}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"year_from": 2023, "year_to": 2011}, "posterior"),
        ({"year_from": 2011, "year_to": 2023, "registers": ["nope"]}, "desconocido"),
    ],
)
def test_bad_parameters_are_refused(db, arguments, message):
    with pytest.raises(ValueError, match=message):
        compute_tables(**arguments)


def test_the_number_of_queries_does_not_grow_with_the_data(institution, officer):
    build_world(institution, officer)
    with CaptureQueriesContext(connection) as small:
        compute_tables(year_from=FROM, year_to=TO)
    build_world(institution, officer, copies=3)
    with CaptureQueriesContext(connection) as large:
        tables = compute_tables(year_from=FROM, year_to=TO)
    assert len(large.captured_queries) == len(small.captured_queries)
    statements = [query["sql"] for query in large.captured_queries]
    # Each case register selects its people once (stats.populations: one CREATE TABLE … AS of
    # its five populations) ...
    assert sum(sql.startswith("CREATE TEMPORARY TABLE stats_counted_person AS") for sql in statements) == 2
    # ... then one query per table of the case registers, one for all the protocol tables.
    case_tables = sum(1 for t in tables if t.register != PROT)
    tables_read = [sql for sql in statements if sql.startswith("SELECT") and "to_regclass" not in sql]
    assert len(tables_read) == case_tables + 1
    assert next(t for t in tables if t.key == "casos_por_anio").totals == [12]


def test_statistics_never_read_identity_columns(institution, officer):
    build_world(institution, officer)
    with CaptureQueriesContext(connection) as queries:
        compute_tables(year_from=FROM, year_to=TO)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    for column in ("given_names", "surnames", "document_number", "birth_date", "requester_name", "address"):
        assert column not in sql


def test_cases_outside_the_range_and_victims_only_in_them_are_left_out(tables):
    # C5 (2013) is sexual and formalised; V7 (Colombian) is only in C5.
    for register in (FORMAL, IDENT):
        nationalities = [row.key for row in tables[(register, "victimas_por_nacionalidad")].rows]
        assert "CO" not in nationalities
    assert by_year(tables[(IDENT, "trata_sexual_casos_por_anio")]) == {"2015": 1, "2022": 1}
    # V5 is in C5 (22, outside) and C4 (30): an adult victim of 2023 only.
    assert cell(tables[(FORMAL, "victimas_por_condicion_nna")], "adulto", 2023) == 1


def test_a_case_that_is_not_formalised_is_absent_from_the_formalised_register(tables):
    # C3 (vigente, sexual, 2022) and its victim V3 (sex unknown, Peruvian) and offender O4.
    assert by_row(tables[(FORMAL, "casos_por_estado")]).get("vigente") is None
    assert "PE" not in [row.key for row in tables[(FORMAL, "victimas_por_nacionalidad")].rows]
    assert by_row(tables[(FORMAL, "victimas_por_sexo")]).get("sin_informacion") is None
    assert tables[(FORMAL, "imputados_por_anio")].totals[0] == 3
    assert by_row(tables[(IDENT, "casos_por_estado")])["vigente"] == 1


def test_a_category_without_a_row_is_an_error_not_a_silent_drop():
    from stats.tables import category_table

    with pytest.raises(ValueError, match="sin fila"):
        category_table(
            key="k",
            family=5,
            register=FORMAL,
            title="t",
            row_header="Sexo",
            categories=Sex.choices,
            counts={("otro", 2020): 1},
            years=range(2020, 2021),
        )


def test_a_victim_in_two_cases_of_the_same_day_is_counted_once_with_the_facts_of_the_first_case(institution):
    first = CaseFactory(intake_date=D(2020, 1, 1), purpose=SEXUAL, lead_institution=institution)
    second = CaseFactory(intake_date=D(2020, 1, 1), purpose=LABOUR, lead_institution=institution)
    victim = VictimFactory(registering_institution=institution)
    link(second, victim, age=20, purpose=LABOUR)
    link(first, victim, age=17, purpose=SEXUAL)
    tables = {t.key: t for t in compute_tables(year_from=2020, year_to=2020, registers=[IDENT])}
    assert tables["victimas_por_anio"].totals == [1]
    # Same date: the case with the lower id is the earlier one.
    assert by_row(tables["victimas_por_fin"]) == {SEXUAL: 1}
    assert by_row(tables["victimas_por_condicion_nna"]) == {"nna": 1}
    assert tables["casos_por_anio"].change_five_years is None


def _counted_people_table_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('pg_temp.stats_counted_person') IS NOT NULL")
        return cursor.fetchone()[0]


def test_the_temporary_population_table_lives_only_during_a_computation(institution, officer):
    from unittest import mock

    from stats import tables as tables_module

    build_world(institution, officer)
    compute_tables(year_from=FROM, year_to=TO, registers=[IDENT])
    assert not _counted_people_table_exists()
    # A failure half-way through a register leaves nothing behind, and the next run works.
    with (
        mock.patch.dict(tables_module.CASE_FAMILIES, {5: mock.Mock(side_effect=RuntimeError("boom"))}),
        pytest.raises(RuntimeError),
    ):
        compute_tables(year_from=FROM, year_to=TO, registers=[IDENT])
    assert not _counted_people_table_exists()
    again = {t.key: t for t in compute_tables(year_from=FROM, year_to=TO, registers=[IDENT])}
    assert again["victimas_por_sexo"].totals[-1] == again["victimas_por_anio"].totals[-1] > 0


def test_a_computation_inside_another_on_the_same_connection_is_refused(institution, officer):
    """Review 8: a nested computation dropped the outer one's population table."""
    from stats.populations import CaseFacts, counted_people
    from stats.registers import CASE_REGISTERS

    build_world(institution, officer)
    with (
        counted_people(CaseFacts(CASE_REGISTERS[IDENT], FROM, TO)),
        pytest.raises(RuntimeError, match="inside another"),
    ):
        compute_tables(year_from=FROM, year_to=TO, registers=[IDENT])
