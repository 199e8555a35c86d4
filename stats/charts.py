"""The dashboard's charts: inline SVG drawn on the server from a snapshot's table (a
``Table.as_dict()``), with no JavaScript library and no third-party load.

The page's Content-Security-Policy refuses style attributes, so every colour and size is an SVG
presentation attribute (``fill``, ``font-size``). Each chart is ``role="img"`` with an
``aria-label`` saying what it shows; the numbers are read in the data table beside it, which is
the accessible form of the chart.

Three shapes, chosen by the table's shape (docs/statistics.md, "Shape of a table"):

- tables per year (no ``Total`` column): bars per year, one bar per measure;
- status and termination tables (and the outcome tables of families 9 and 10): 100% stacked
  bars, one per year of the range;
- every other table by category: horizontal bars of each category's total; nationality tables
  show the ten most frequent nationalities, then «Otras» and «Sin información».
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

# Colour-blind friendly (Okabe-Ito, then greys), dark enough against white.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#5b5b5b", "#882255", "#117733", "#332288")
TEXT = "#1f2933"
AXIS = "#6b7380"
WIDTH = 640
STACKED_SUFFIXES = ("_por_estado", "_por_grupo", "_por_tipo", "_por_resultado")
TOP_NATIONALITIES = 10
UNKNOWN_KEY = "sin_informacion"


@dataclass(frozen=True)
class Chart:
    kind: str  # "years", "stacked", "categories"
    svg: SafeString


def has_total_column(table: dict) -> bool:
    columns = table["columns"]
    return len(columns) > 1 and columns[-1] == "Total"


def chart_kind(table: dict) -> str:
    if not has_total_column(table):
        return "years"
    if table["key"].endswith(STACKED_SUFFIXES):
        return "stacked"
    return "categories"


def chart(table: dict) -> Chart:
    kind = chart_kind(table)
    drawer = {"years": _year_bars, "stacked": _stacked_bars, "categories": _category_bars}[kind]
    return Chart(kind=kind, svg=drawer(table))


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _svg(table: dict, height: int, description: str, body: SafeString) -> SafeString:
    label = _("%(kind)s: %(title)s. Los datos están en la tabla junto al gráfico.") % {
        "kind": description,
        "title": table["title"],
    }
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" font-family="sans-serif" xmlns="http://www.w3.org/2000/svg">{}</svg>',
        label,
        WIDTH,
        height,
        body,
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 11) -> SafeString:
    return format_html(
        '<text x="{}" y="{}" text-anchor="{}" font-size="{}" fill="{}">{}</text>',
        round(x, 1),
        round(y, 1),
        anchor,
        size,
        TEXT,
        text,
    )


def _rect(x: float, y: float, width: float, height: float, fill: str) -> SafeString:
    return format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>',
        round(x, 1),
        round(y, 1),
        round(max(width, 0), 1),
        round(max(height, 0), 1),
        fill,
    )


def _line(x1: float, y1: float, x2: float, y2: float) -> SafeString:
    return format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1"></line>',
        round(x1, 1),
        round(y1, 1),
        round(x2, 1),
        round(y2, 1),
        AXIS,
    )


def _legend(labels: list[str], top: float) -> tuple[list[SafeString], float]:
    """Swatches and labels in rows of three; returns the parts and the height used."""
    parts, per_row, column_width = [], 3, WIDTH / 3
    for index, label in enumerate(labels):
        x = 8 + (index % per_row) * column_width
        y = top + (index // per_row) * 18
        parts.append(_rect(x, y, 10, 10, _colour(index)))
        parts.append(_text(x + 14, y + 9, label))
    rows = (len(labels) + per_row - 1) // per_row
    return parts, rows * 18


def _join(parts: list[SafeString]) -> SafeString:
    return mark_safe("".join(parts))  # noqa: S308 - every part was built by format_html


def _year_bars(table: dict) -> SafeString:
    """Bars per year; tables with several measures (offenders) have a bar per measure."""
    rows, measures = table["rows"], table["columns"]
    left, right, top, plot_height = 48, 8, 12, 200
    plot_width = WIDTH - left - right
    peak = max([count for row in rows for count in row["counts"]] + [1])
    parts = [
        _line(left, top, left, top + plot_height),
        _line(left, top + plot_height, WIDTH - right, top + plot_height),
    ]
    for fraction in (0.5, 1):
        y = top + plot_height - fraction * plot_height
        parts.append(_text(left - 6, y + 4, str(round(peak * fraction)), anchor="end", size=10))
    parts.append(_text(left - 6, top + plot_height + 4, "0", anchor="end", size=10))
    slot = plot_width / max(len(rows), 1)
    bar = slot * 0.8 / max(len(measures), 1)
    for index, row in enumerate(rows):
        x0 = left + index * slot + slot * 0.1
        for measure, count in enumerate(row["counts"]):
            height = plot_height * count / peak
            parts.append(_rect(x0 + measure * bar, top + plot_height - height, bar, height, _colour(measure)))
        parts.append(
            _text(left + index * slot + slot / 2, top + plot_height + 16, row["label"], anchor="middle", size=10)
        )
    height = top + plot_height + 28
    if len(measures) > 1:
        legend, used = _legend(list(measures), height)
        parts += legend
        height += used
    return _svg(table, height, _("Gráfico de barras por año"), _join(parts))


def _stacked_bars(table: dict) -> SafeString:
    """A 100% bar per year: each category's share of the year's total."""
    years = table["columns"][:-1]
    rows = table["rows"]
    left, right, top, plot_height = 40, 8, 12, 200
    plot_width = WIDTH - left - right
    parts = [
        _line(left, top, left, top + plot_height),
        _line(left, top + plot_height, WIDTH - right, top + plot_height),
    ]
    for fraction in (0, 0.5, 1):
        parts.append(
            _text(
                left - 6,
                top + plot_height - fraction * plot_height + 4,
                f"{int(fraction * 100)}%",
                anchor="end",
                size=10,
            )
        )
    slot = plot_width / max(len(years), 1)
    for column, year in enumerate(years):
        total = sum(row["counts"][column] for row in rows)
        x = left + column * slot + slot * 0.15
        y = top + plot_height
        for index, row in enumerate(rows):
            if total and row["counts"][column]:
                height = plot_height * row["counts"][column] / total
                y -= height
                parts.append(_rect(x, y, slot * 0.7, height, _colour(index)))
        parts.append(_text(left + column * slot + slot / 2, top + plot_height + 16, year, anchor="middle", size=10))
    height = top + plot_height + 28
    legend, used = _legend([row["label"] for row in rows], height)
    return _svg(table, height + used, _("Gráfico de barras apiladas al 100% por año"), _join(parts + legend))


def category_totals(table: dict) -> list[tuple[str, int]]:
    """(label, total) per bar; nationality tables: the top ten, «Otras», then «Sin información»."""
    totals = [(row["label"], row["counts"][-1], row["key"]) for row in table["rows"]]
    if "nacionalidad" not in table["key"]:
        return [(label, total) for label, total, _key in totals]
    known = sorted((item for item in totals if item[2] != UNKNOWN_KEY), key=lambda item: -item[1])
    unknown = [item for item in totals if item[2] == UNKNOWN_KEY]
    shown = [(label, total) for label, total, _key in known[:TOP_NATIONALITIES]]
    if len(known) > TOP_NATIONALITIES:
        shown.append((_("Otras"), sum(total for _label, total, _key in known[TOP_NATIONALITIES:])))
    return shown + [(label, total) for label, total, _key in unknown]


def _category_bars(table: dict) -> SafeString:
    bars = category_totals(table)
    label_width, right, top, step = 200, 56, 8, 22
    plot_width = WIDTH - label_width - right
    peak = max([total for _label, total in bars] + [1])
    parts = []
    for index, (label, total) in enumerate(bars):
        y = top + index * step
        parts.append(_text(label_width - 8, y + 14, label[:32], anchor="end"))
        width = plot_width * total / peak
        parts.append(_rect(label_width, y + 3, width, step - 6, _colour(0)))
        parts.append(_text(label_width + width + 6, y + 14, str(total)))
    parts.append(_line(label_width, top, label_width, top + len(bars) * step))
    return _svg(table, top * 2 + len(bars) * step, _("Gráfico de barras horizontales"), _join(parts))


def data_rows(table: dict) -> list[dict]:
    """The data table's rows: label, counts, percentage."""
    percentages = table.get("percentages") or []
    return [
        {
            "label": row["label"],
            "counts": row["counts"],
            "percentage": percentages[index] if index < len(percentages) else None,
        }
        for index, row in enumerate(table["rows"])
    ]
