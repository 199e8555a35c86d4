"""A snapshot's tables as they may leave the system: every table of the snapshot published
together, in the one publication mode the system is configured for (issue 7, "Exports and
disclosure control").

Why together. Tables of one population share their totals: victims per year is the totals row
of victims by sex, by nationality, by region...; the closed cases per year are the «terminada»
row of cases by status and the totals row of cases by termination; the sexual-trafficking
victims per year are, nearly always, the «explotación sexual» row of victims by purpose.
Suppressing each table on its own would hide a total in one table that another publishes, and
give the hidden cells back (a review found exactly that). So:

- every **year vector** of every table (a row of a table by category, its totals row, a measure
  of a table per year), with its sum, is compared with every other: vectors with the same
  counts are *linked*, entry by entry (a coincidence only costs a few more hidden cells);
- the vectors that differ by definition only in rare records (the purpose rows of victims by
  purpose against the per-purpose victim tables, the NNA row of the NNA condition table against
  NNA victims per year) are linked year by year wherever their counts agree;
- each table is suppressed (stats.disclosure.suppress), and whatever one hides is forced hidden
  in every linked place, again and again until nothing changes. Hiding only grows, so this ends.

This makes every table protected on its own and keeps shared values hidden alike; it does not
make the tables of a population safe *read together*: the bounds each table gives on its hidden
values (at least 1 each, since zeros are published) can combine across tables and pin them
(review 8, pinned in tests/stats/test_exports.py). CTDC rounding, where every published figure
is itself uncertain, holds up, and is the default mode (docs/statistics.md, "Disclosure
control").

One mode per system (``settings.STATISTICS_PUBLICATION``): the same table published in both
suppression and CTDC rounding would be read against itself (a rounded figure bounds a
suppressed one). Tables per year with several measures (offenders; protocol entries and people)
are published measure by measure, as one-column tables.

Nationality tables: in publication mode a row whose total is below the threshold (10 for CTDC)
is folded into «Otras nacionalidades», and rows are in alphabetical order, so a rare nationality's
presence is not published by its label, nor hidden counts ranked by the order of the rows.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from stats.disclosure import CTDC_BASE, MODE_CTDC, MODE_SUPPRESSION, Published, round_ctdc, suppress
from stats.tables import TOTAL_COLUMN, UNKNOWN_KEY, share

MODES = (MODE_SUPPRESSION, MODE_CTDC)
OTHER_NATIONALITIES_KEY = "otras"
OTHER_NATIONALITIES_LABEL = "Otras nacionalidades"
# (table key, row key) of a table by category ~ (table key) of a table per year: the same people
# but for records where a person's earliest case differs between the two populations.
NEAR_LINKS = (
    (("victimas_por_fin", "explotacion_sexual"), "trata_sexual_victimas_por_anio"),
    (("victimas_por_fin", "trabajo_forzoso"), "trata_laboral_victimas_por_anio"),
    (("victimas_por_condicion_nna", "nna"), "nna_victimas_por_anio"),
)


@dataclass(frozen=True)
class PublicationSettings:
    mode: str
    threshold: int

    @classmethod
    def configured(cls) -> PublicationSettings:
        config = getattr(settings, "STATISTICS_PUBLICATION", {})
        mode = config.get("mode", MODE_CTDC)
        threshold = config.get("threshold", 5)
        if mode not in MODES:
            raise ValueError(f"STATISTICS_PUBLICATION mode must be one of {MODES}, not {mode!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ValueError(f"STATISTICS_PUBLICATION threshold must be a positive integer, not {threshold!r}")
        return cls(mode=mode, threshold=CTDC_BASE if mode == MODE_CTDC else threshold)


@dataclass(frozen=True)
class PublishedTable:
    """A snapshot's table as it may leave the system."""

    key: str
    register: str
    title: str
    register_label: str
    row_header: str
    columns: list[str]  # the data columns, then "Total" when the table has a total column
    rows: list[tuple[str, list[int | None], int | None, float | None]]  # label, cells, total, %
    totals: list[int | None]
    grand_total: int | None
    has_total_column: bool
    mode: str
    threshold: int
    mode_label: str


def _is_category_table(table: dict) -> bool:
    return len(table["columns"]) > 1 and table["columns"][-1] == TOTAL_COLUMN


def _sort_key(label: str) -> str:
    return unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().casefold()


def _rows_for_publication(table: dict, *, fold_below: int) -> list[tuple[str, str, list[int]]]:
    """(key, label, year counts) of a table by category; nationality tables folded and sorted."""
    rows = [(row["key"], row["label"], list(row["counts"][:-1])) for row in table["rows"]]
    if table.get("category_count") is None:
        return rows
    known = [row for row in rows if row[0] != UNKNOWN_KEY]
    unknown = [row for row in rows if row[0] == UNKNOWN_KEY]
    kept = sorted((row for row in known if sum(row[2]) >= fold_below), key=lambda row: _sort_key(row[1]))
    folded = [row for row in known if sum(row[2]) < fold_below]
    width = len(table["columns"]) - 1
    other = [sum(row[2][y] for row in folded) for y in range(width)]
    return [*kept, (OTHER_NATIONALITIES_KEY, OTHER_NATIONALITIES_LABEL, other), *unknown]


@dataclass
class _Part:
    """One matrix published with stats.disclosure: a table by category (rows x years), or one
    measure of a table per year (years x 1)."""

    table_index: int
    matrix: list[list[int]]
    measure: int | None = None  # the measure of a table per year
    row_keys: tuple[str, ...] = ()

    @cached_property
    def grid(self) -> list[list[int]]:
        grid = [[*row, sum(row)] for row in self.matrix]
        grid.append([sum(column) for column in zip(*grid, strict=True)])
        return grid

    def year_vectors(self) -> list[tuple[str | None, list[tuple[int, int]]]]:
        """(row key or None, the grid entries of the vector by year and then its sum)."""
        n_rows, n_cols = len(self.grid), len(self.grid[0])
        if self.measure is not None:
            return [(None, [(y, 0) for y in range(n_rows - 1)] + [(n_rows - 1, 0)])]
        vectors = [(key, [(r, y) for y in range(n_cols)]) for r, key in enumerate(self.row_keys)]
        vectors.append((TOTAL_COLUMN, [(n_rows - 1, y) for y in range(n_cols)]))
        return vectors


def _hidden_entries(published: Published) -> set[tuple[int, int]]:
    n_rows, n_cols = len(published.cells), len(published.cells[0])
    hidden = {(i, j) for i, row in enumerate(published.cells) for j, value in enumerate(row) if value is None}
    hidden |= {(i, n_cols) for i, value in enumerate(published.row_totals) if value is None}
    hidden |= {(n_rows, j) for j, value in enumerate(published.column_totals) if value is None}
    if published.grand_total is None:
        hidden.add((n_rows, n_cols))
    return hidden


class _Links:
    """Union-find over (part, grid entry): entries that must be hidden alike."""

    def __init__(self):
        self.parent: dict[tuple[int, tuple[int, int]], tuple[int, tuple[int, int]]] = {}

    def find(self, item):
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a, b) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[tuple[int, tuple[int, int]]]]:
        grouped = defaultdict(list)
        for item in self.parent:
            grouped[self.find(item)].append(item)
        return [members for members in grouped.values() if len(members) > 1]


def _parts(tables: list[dict], *, fold_below: int) -> tuple[list[_Part], dict[int, list[tuple[str, str]]]]:
    parts: list[_Part] = []
    row_labels: dict[int, list[tuple[str, str]]] = {}
    for index, table in enumerate(tables):
        if _is_category_table(table):
            rows = _rows_for_publication(table, fold_below=fold_below)
            row_labels[index] = [(key, label) for key, label, _counts in rows]
            matrix = [counts for _key, _label, counts in rows] or [[0] * (len(table["columns"]) - 1)]
            parts.append(_Part(index, matrix, row_keys=tuple(key for key, _label, _counts in rows)))
        else:
            row_labels[index] = [(row["key"], row["label"]) for row in table["rows"]]
            for measure in range(len(table["columns"])):
                matrix = [[row["counts"][measure]] for row in table["rows"]] or [[0]]
                parts.append(_Part(index, matrix, measure=measure))
    return parts, row_labels


def _links(tables: list[dict], parts: list[_Part]) -> _Links:
    links = _Links()
    by_values: dict[tuple[int, ...], list[tuple[int, list[tuple[int, int]]]]] = defaultdict(list)
    vectors: dict[tuple[str, str, str | None], tuple[int, list[tuple[int, int]]]] = {}
    for number, part in enumerate(parts):
        table = tables[part.table_index]
        for row_key, entries in part.year_vectors():
            values = tuple(part.grid[i][j] for i, j in entries)
            if values[-1]:
                by_values[values].append((number, entries))
            vectors[(table["register"], table["key"], row_key)] = (number, entries)
    for same in by_values.values():
        first_part, first_entries = same[0]
        for other_part, other_entries in same[1:]:
            for a, b in zip(first_entries, other_entries, strict=True):
                links.union((first_part, a), (other_part, b))
    for register in {table["register"] for table in tables}:
        for (table_key, row_key), per_year_key in NEAR_LINKS:
            row = vectors.get((register, table_key, row_key))
            column = vectors.get((register, per_year_key, None))
            if row is None or column is None or len(row[1]) != len(column[1]):
                continue
            (row_part, row_entries), (column_part, column_entries) = row, column
            for a, b in zip(row_entries[:-1], column_entries[:-1], strict=True):  # year by year
                value = parts[row_part].grid[a[0]][a[1]]
                if value and value == parts[column_part].grid[b[0]][b[1]]:
                    links.union((row_part, a), (column_part, b))
    return links


def _suppress_linked(parts: list[_Part], links: _Links, *, threshold: int) -> list[Published]:
    groups = links.groups()
    forced: dict[int, set[tuple[int, int]]] = defaultdict(set)
    while True:
        published = [
            suppress(part.matrix, threshold=threshold, forced=frozenset(forced[n])) for n, part in enumerate(parts)
        ]
        hidden = {(n, entry) for n, result in enumerate(published) for entry in _hidden_entries(result)}
        missing = [
            member for group in groups if any(m in hidden for m in group) for member in group if member not in hidden
        ]
        if not missing:
            return published
        for number, entry in missing:
            forced[number].add(entry)


def publish_tables(tables: list[dict], config: PublicationSettings | None = None) -> list[PublishedTable]:
    """Every table (a snapshot's ``tables``), published together in the configured mode."""
    config = config or PublicationSettings.configured()
    parts, row_labels = _parts(tables, fold_below=config.threshold)
    if config.mode == MODE_SUPPRESSION:
        results = _suppress_linked(parts, _links(tables, parts), threshold=config.threshold)
    else:
        results = [round_ctdc(part.matrix) for part in parts]
    by_table: dict[int, list[tuple[_Part, Published]]] = defaultdict(list)
    for part, result in zip(parts, results, strict=True):
        by_table[part.table_index].append((part, result))
    mode_label = results[0].mode_label if results else ""
    return [
        _published_table(table, row_labels[index], by_table[index], config, mode_label)
        for index, table in enumerate(tables)
    ]


def _published_table(table, labels, parts, config: PublicationSettings, mode_label: str) -> PublishedTable:
    common = {
        "key": table["key"],
        "register": table["register"],
        "title": table["title"],
        "register_label": table.get("register_label", table["register"]),
        "row_header": table["row_header"],
        "mode": config.mode,
        "threshold": config.threshold,
        "mode_label": mode_label,
    }
    if parts[0][0].measure is None:  # a table by category
        (_part, result) = parts[0]
        rows = []
        for (_key, label), cells, total in zip(labels, result.cells, result.row_totals, strict=False):
            percentage = share(total, result.grand_total) if None not in (total, result.grand_total) else None
            rows.append((label, cells, total, percentage))
        return PublishedTable(
            **common,
            columns=list(table["columns"]),
            rows=rows,
            totals=result.column_totals,
            grand_total=result.grand_total,
            has_total_column=True,
        )
    rows = [
        (label, [result.cells[y][0] for _part, result in parts], None, None) for y, (_key, label) in enumerate(labels)
    ]
    return PublishedTable(
        **common,
        columns=list(table["columns"]),
        rows=rows,
        totals=[result.column_totals[0] for _part, result in parts],
        grand_total=None,
        has_total_column=False,
    )
