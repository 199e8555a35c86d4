"""``manage.py compute_statistics --from 2011 --to 2023 [--register ...] [--format json|text]``:
the MITP tables (stats.tables.compute_tables), computed synchronously and printed."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stats.snapshots import MAX_YEAR, MIN_YEAR  # one range of years for the command, tasks and dashboard
from stats.tables import REGISTER_LABELS, REGISTERS, Table, compute_tables

FORMATS = ("text", "json")


def parse_year(value: str | int | None, option: str) -> int:
    if value is None:
        raise CommandError(f"Falta {option}: indique un año, por ejemplo {option} 2023.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CommandError(f"{option}: «{value}» no es un año (use cuatro cifras, por ejemplo 2023).") from None
    if not MIN_YEAR <= number <= MAX_YEAR:
        raise CommandError(f"{option}: el año {number} está fuera del rango {MIN_YEAR} a {MAX_YEAR}.")
    return number


def render_text(table: Table) -> str:
    """A readable Spanish table: a header line, the rows, totals, percentages and change."""
    has_share = table.percentages is not None
    header = [table.row_header, *table.columns] + (["%"] if has_share else [])
    lines = []
    for i, row in enumerate(table.rows):
        cells = [row.label, *map(str, row.counts)]
        if has_share:
            value = table.percentages[i]
            cells.append("—" if value is None else f"{value:.1f}".replace(".", ","))
        lines.append(cells)
    lines.append(["Total", *map(str, table.totals)] + (["100,0" if table.totals[-1] else "—"] if has_share else []))
    if table.change_five_years:
        lines.append([table.change_five_years.label, *(f"{n:+d}" for n in table.change_five_years.counts)])
        percents = table.change_five_years_percent or []
        lines.append(["  variación (%)", *("—" if p is None else f"{p:+.1f}".replace(".", ",") for p in percents)])
    widths = [max(len(str(line[i])) for line in [header, *lines] if i < len(line)) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(str(c).rjust(widths[i + 1]) for i, c in enumerate(cells[1:]))]).rstrip()

    title = f"[{table.register_label}] {table.family}. {table.title}"
    out = [title, "=" * len(title), fmt(header), fmt(["-" * w for w in widths])]
    out.extend(fmt(line) for line in lines)
    out.extend(table.notes)
    return "\n".join(out)


class Command(BaseCommand):
    help = "Calcula las tablas estadísticas del MITP para un rango de años y las imprime."

    def add_arguments(self, parser: CommandParser) -> None:
        # Validated in handle(), so that every refusal is a CommandError in Spanish.
        parser.add_argument("--from", dest="year_from", help="Primer año (incluido), por ejemplo 2011.")
        parser.add_argument("--to", dest="year_to", help="Último año (incluido), por ejemplo 2023.")
        parser.add_argument(
            "--register",
            dest="registers",
            action="append",
            help="Registro a calcular (repetible): "
            + ", ".join(f"{key} ({label})" for key, label in REGISTER_LABELS.items())
            + ". Por omisión, los tres.",
        )
        parser.add_argument("--format", default="text", help="Formato de salida: text (por omisión) o json.")

    def handle(self, *args, year_from, year_to, registers: list[str] | None, format: str, **options):
        year_from, year_to = parse_year(year_from, "--from"), parse_year(year_to, "--to")
        if year_from > year_to:
            raise CommandError(f"El año inicial ({year_from}) no puede ser posterior al año final ({year_to}).")
        unknown = [name for name in registers or () if name not in REGISTERS]
        if unknown:
            raise CommandError(f"Registro desconocido: {', '.join(unknown)}. Use uno de: {', '.join(REGISTERS)}.")
        if format not in FORMATS:
            raise CommandError(f"Formato desconocido: {format}. Use uno de: {', '.join(FORMATS)}.")
        tables = compute_tables(year_from=year_from, year_to=year_to, registers=tuple(registers or REGISTERS))
        if format == "json":
            self.stdout.write(json.dumps([table.as_dict() for table in tables], ensure_ascii=False, indent=2))
        else:
            self.stdout.write("\n\n".join(render_text(table) for table in tables))
