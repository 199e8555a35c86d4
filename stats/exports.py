"""Exports of a statistics snapshot, for anything that leaves the system: CSV (one table) and
XLSX (every table, a sheet each), always in a publication mode (stats.disclosure), never with
the exact internal counts (those are shown only in the authenticated dashboard).

Each file carries the snapshot's parameters, definition version and data fingerprint, and the
publication mode used, so a published figure can be traced to what it was computed from.

What a table publishes is computed from its published cells only: row totals, column totals and
percentages. A percentage or a difference computed from exact counts would give the hidden counts
back (a share times the total is the count), so the five-year change row is not exported: it is
read in the dashboard.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from stats.disclosure import MODE_CTDC, MODE_SUPPRESSION, Published, round_ctdc, suppress
from stats.models import StatisticsSnapshot
from stats.tables import TOTAL_COLUMN, share

HIDDEN = "x"  # a hidden value, as national statistics offices mark it
MODES = (MODE_SUPPRESSION, MODE_CTDC)


@dataclass(frozen=True)
class PublishedTable:
    """A snapshot's table as it may leave the system."""

    key: str
    title: str
    register_label: str
    row_header: str
    columns: list[str]  # the data columns, then "Total" when the table has a total column
    rows: list[tuple[str, list[int | None], int | None, float | None]]  # label, cells, total, %
    totals: list[int | None]
    grand_total: int | None
    has_total_column: bool
    published: Published


def _is_total_column(table: dict) -> bool:
    return len(table["columns"]) > 1 and table["columns"][-1] == TOTAL_COLUMN


def publish(table: dict, *, mode: str, threshold: int = 5) -> PublishedTable:
    """The table (a snapshot's ``tables`` item) in publication mode ``mode``."""
    if mode not in MODES:
        raise ValueError(f"unknown publication mode {mode!r}")
    with_total = _is_total_column(table)
    width = len(table["columns"]) - (1 if with_total else 0)
    matrix = [list(row["counts"][:width]) for row in table["rows"]]
    if not matrix:
        matrix = [[0] * max(width, 1)]
    published = suppress(matrix, threshold=threshold) if mode == MODE_SUPPRESSION else round_ctdc(matrix)
    rows = []
    for row, cells, total in zip(table["rows"], published.cells, published.row_totals, strict=False):
        percentage = share(total, published.grand_total) if None not in (total, published.grand_total) else None
        rows.append((row["label"], cells, total, percentage))
    return PublishedTable(
        key=table["key"],
        title=table["title"],
        register_label=table.get("register_label", table["register"]),
        row_header=table["row_header"],
        columns=list(table["columns"]),
        rows=rows,
        totals=published.column_totals,
        grand_total=published.grand_total,
        has_total_column=with_total,
        published=published,
    )


def _shown(value) -> object:
    return HIDDEN if value is None else value


def _parameters(snapshot: StatisticsSnapshot, published: Published) -> list[tuple[str, str]]:
    return [
        (_("Años"), f"{snapshot.year_from}-{snapshot.year_to}"),
        (_("Registros"), ", ".join(snapshot.registers)),
        (_("Versión de las definiciones"), snapshot.definition_version),
        (_("Huella de los datos"), snapshot.data_fingerprint),
        (_("Instantánea calculada"), timezone.localtime(snapshot.computed_at).strftime("%d-%m-%Y %H:%M")),
        (_("Modo de publicación"), published.mode_label),
        (_("Celdas ocultas"), _("marcadas con «%(mark)s»") % {"mark": HIDDEN}),
    ]


def _table_lines(table: PublishedTable) -> list[list[object]]:
    header = [table.row_header, *table.columns, _("%")]
    if not table.has_total_column:
        header = [table.row_header, *table.columns]
    lines: list[list[object]] = [header]
    for label, cells, total, percentage in table.rows:
        line = [label, *(_shown(cell) for cell in cells)]
        if table.has_total_column:
            line += [_shown(total), _shown(percentage)]
        lines.append(line)
    footer = [_("Total"), *(_shown(total) for total in table.totals)]
    if table.has_total_column:
        footer += [_shown(table.grand_total), 100.0 if table.grand_total else HIDDEN]
    lines.append(footer)
    return lines


def _table(snapshot: StatisticsSnapshot, key: str) -> dict:
    for table in snapshot.tables:
        if table["key"] == key:
            return table
    raise KeyError(key)


def snapshot_table_csv(snapshot: StatisticsSnapshot, *, table_key: str, mode: str, threshold: int = 5) -> str:
    """One table as CSV: its parameters first, then the table in publication mode."""
    table = publish(_table(snapshot, table_key), mode=mode, threshold=threshold)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([table.title, table.register_label])
    for name, value in _parameters(snapshot, table.published):
        writer.writerow([name, value])
    writer.writerow([])
    writer.writerows(_table_lines(table))
    return out.getvalue()


def snapshot_xlsx(snapshot: StatisticsSnapshot, *, mode: str, threshold: int = 5) -> bytes:
    """Every table of the snapshot, a sheet each, after a sheet of parameters."""
    workbook = Workbook()
    about = workbook.active
    about.title = _("Parámetros")
    bold = Font(bold=True)
    tables = [publish(table, mode=mode, threshold=threshold) for table in snapshot.tables]
    mode_label = tables[0].published.mode_label if tables else ""
    for name, value in _parameters(snapshot, tables[0].published) if tables else []:
        about.append([name, value])
    for index, table in enumerate(tables, start=1):
        sheet = workbook.create_sheet(f"{index:02d}")  # sheet names are short; the title is inside
        sheet.append([table.title])
        sheet["A1"].font = bold
        sheet.append([table.register_label, mode_label])
        sheet.append([])
        for line in _table_lines(table):
            sheet.append(line)
        sheet.cell(row=4, column=1).font = bold
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
