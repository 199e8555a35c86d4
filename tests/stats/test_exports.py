"""Exports in publication mode: no exact small count leaves, totals and percentages come from
published values only, and the file names its parameters, fingerprint and mode."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from stats.exports import HIDDEN, publish, snapshot_table_csv, snapshot_xlsx
from stats.models import SnapshotKind, StatisticsSnapshot
from stats.tables import share

pytestmark = pytest.mark.django_db

BY_NATIONALITY = {
    "key": "victimas_por_nacionalidad",
    "family": 6,
    "register": "identificadas",
    "register_label": "Causas identificadas",
    "title": "Víctimas por nacionalidad",
    "row_header": "Nacionalidad",
    "columns": ["2022", "2023", "Total"],
    "rows": [
        {"label": "Bolivia", "key": "BO", "counts": [40, 35, 75]},
        {"label": "Perú", "key": "PE", "counts": [22, 3, 25]},  # 3: a small cell
        {"label": "Venezuela", "key": "VE", "counts": [18, 27, 45]},
    ],
    "totals": [80, 65, 145],
}
PER_YEAR = {
    "key": "casos_por_anio",
    "family": 1,
    "register": "identificadas",
    "register_label": "Causas identificadas",
    "title": "Causas por año",
    "row_header": "Año",
    "columns": ["Causas"],
    "rows": [{"label": "2022", "key": "2022", "counts": [12]}, {"label": "2023", "key": "2023", "counts": [4]}],
    "totals": [16],
}


@pytest.fixture
def snapshot():
    return StatisticsSnapshot.objects.create(
        year_from=2022,
        year_to=2023,
        registers=["identificadas"],
        definition_version="1",
        parameters_key="p" * 64,
        data_fingerprint="f" * 64,
        kind=SnapshotKind.REQUESTED,
        computation_ms=12,
        tables=[BY_NATIONALITY, PER_YEAR],
    )


def lines(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_suppression_hides_the_small_cell_and_enough_others_and_recomputes_what_it_shows(snapshot):
    table = publish(BY_NATIONALITY, mode="supresion")
    cells = [cells for _label, cells, _total, _pct in table.rows]
    assert cells[1][1] is None, "the 3 is hidden"
    hidden = sum(cell is None for row in cells for cell in row)
    assert hidden >= 4, "one hidden cell alone would be recomputed from its row and column totals"
    for label, _cells, total, percentage in table.rows:
        if total is not None and table.grand_total:
            assert percentage == share(total, table.grand_total), "from published values only"
        if total is None:
            assert percentage is None, f"{label}: a share of a hidden total gives the total back"


def test_the_csv_names_parameters_fingerprint_and_mode_and_carries_no_hidden_count(snapshot):
    text = snapshot_table_csv(snapshot, table_key="victimas_por_nacionalidad", mode="supresion")
    rows = lines(text)
    assert rows[0] == ["Víctimas por nacionalidad", "Causas identificadas"]
    flat = {cell for row in rows for cell in row}
    assert "f" * 64 in flat and "2022-2023" in flat
    assert any("Supresión de celdas menores que 5" in cell for cell in flat)
    peru = next(row for row in rows if row and row[0] == "Perú")
    assert peru[2] == HIDDEN and "3" not in peru


def test_ctdc_rounds_down_to_tens_and_hides_what_is_below_ten(snapshot):
    rows = lines(snapshot_table_csv(snapshot, table_key="casos_por_anio", mode="ctdc"))
    year_rows = {row[0]: row[1:] for row in rows if row and row[0] in {"2022", "2023", "Total"}}
    assert year_rows == {"2022": ["10"], "2023": [HIDDEN], "Total": ["10"]}
    assert any("Redondeo hacia abajo a múltiplos de 10" in cell for row in rows for cell in row)


def test_the_workbook_has_the_parameters_and_every_table_in_publication_mode(snapshot):
    workbook = load_workbook(io.BytesIO(snapshot_xlsx(snapshot, mode="supresion")))
    assert workbook.sheetnames == ["Parámetros", "01", "02"]
    about = {row[0]: row[1] for row in workbook["Parámetros"].iter_rows(values_only=True)}
    assert about["Huella de los datos"] == "f" * 64 and about["Años"] == "2022-2023"
    sheet = [list(row) for row in workbook["01"].iter_rows(values_only=True)]
    assert sheet[0][0] == "Víctimas por nacionalidad"
    peru = next(row for row in sheet if row[0] == "Perú")
    assert peru[2] == HIDDEN


def test_an_unknown_mode_is_refused(snapshot):
    with pytest.raises(ValueError):
        publish(BY_NATIONALITY, mode="exacto")
