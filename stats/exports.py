"""Exports of a statistics snapshot, for anything that leaves the system: CSV (one table) and
XLSX (every table, a sheet each), always in a publication mode (stats.disclosure), never with
the exact internal counts (those are shown only in the authenticated dashboard).

Each file carries the snapshot's parameters, definition version and data fingerprint, and the
publication mode used, so a published figure can be traced to what it was computed from.

Every table is published together with all the others of the snapshot, in the one publication
mode the system is configured for (stats.publication says why). Percentages are computed from
published values only: a share computed from exact counts would give hidden counts back (a share
times the total is the count). The five-year change row is not exported, for the same reason:
it is read in the dashboard.
"""

from __future__ import annotations

import csv
import io

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from kernel.audit import audit_record
from kernel.constants import AccessAction
from stats.models import StatisticsSnapshot
from stats.publication import PublicationSettings, PublishedTable, publish_tables

HIDDEN = "x"  # a hidden value, as national statistics offices mark it


def _shown(value) -> object:
    return HIDDEN if value is None else value


def _parameters(snapshot: StatisticsSnapshot, mode_label: str) -> list[tuple[str, str]]:
    return [
        (_("Años"), f"{snapshot.year_from}-{snapshot.year_to}"),
        (_("Registros"), ", ".join(snapshot.registers)),
        (_("Versión de las definiciones"), snapshot.definition_version),
        (_("Huella de los datos"), snapshot.data_fingerprint),
        (_("Instantánea calculada"), timezone.localtime(snapshot.computed_at).strftime("%d-%m-%Y %H:%M")),
        (_("Modo de publicación"), mode_label),
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


def snapshot_table_csv(
    snapshot: StatisticsSnapshot, *, table_key: str, register: str, config: PublicationSettings | None = None
) -> str:
    """One table as CSV: its parameters first, then the table as published with all the others
    (stats.publication). KeyError if the snapshot has no such table."""
    tables = publish_tables(snapshot.tables, config)
    table = next((t for t in tables if t.key == table_key and t.register == register), None)
    if table is None:
        raise KeyError(table_key)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([table.title, table.register_label])
    for name, value in _parameters(snapshot, table.mode_label):
        writer.writerow([name, value])
    writer.writerow([])
    writer.writerows(_table_lines(table))
    return out.getvalue()


def snapshot_xlsx(snapshot: StatisticsSnapshot, *, config: PublicationSettings | None = None) -> bytes:
    """Every table of the snapshot, a sheet each, after a sheet of parameters."""
    workbook = Workbook()
    about = workbook.active
    about.title = _("Parámetros")
    bold = Font(bold=True)
    tables = publish_tables(snapshot.tables, config)
    mode_label = tables[0].mode_label if tables else ""
    for name, value in _parameters(snapshot, mode_label):
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


def audit_export(
    user, snapshot: StatisticsSnapshot, *, table_key: str | None, register: str | None, mode: str, ip_address=None
):
    """Every export is in the access log (conventions.md): who, which snapshot, which table (None:
    the whole workbook), which publication mode. Counts only ever leave in publication mode, but
    an auditor still sees what left and when."""
    details = {"estadisticas": snapshot.pk, "modo": mode, "huella": snapshot.data_fingerprint}
    if table_key is not None:
        details |= {"tabla": table_key, "registro": register}
    audit_record(AccessAction.EXPORT, actor=user, details=details, ip_address=ip_address)
