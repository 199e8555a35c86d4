"""Disclosure control for tables that leave the system (issue 7, "Exports and disclosure control").

Pure functions, no database. A table is a rectangular matrix of non-negative integer counts;
its row totals, column totals and grand total are computed here from the matrix, never taken
from the caller, so a published total can never disagree with its cells. Two publication modes:

- :func:`suppress` ("supresion"): small counts are suppressed, plus secondary suppression so no
  suppressed value can be recomputed exactly from what is published.
- :func:`round_ctdc` ("ctdc"): the Counter Trafficking Data Collaborative rule; every count is
  rounded down to a multiple of 10 and only counts of at least 10 are shown.

Both return a :class:`Published`, whose ``mode_label`` is the Spanish sentence an export must
carry so a reader knows how the numbers were treated.

The augmented table
-------------------
Suppression works on the table *with its margins*: an (R+1) x (C+1) grid whose last column holds
the row totals, whose last row holds the column totals and whose corner holds the grand total.
Every line of that grid obeys one additivity equation (cells minus total equal zero), so totals
and cells are treated alike: either may be suppressed, primarily or as a complement.

How a suppressed value is protected is explained above :func:`_protected`: the criterion
accounts for whole numbers and for suppressed values being at least 1, not only for the linear
equations.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

MODE_SUPPRESSION = "supresion"
MODE_CTDC = "ctdc"
DEFAULT_THRESHOLD = 5
CTDC_BASE = 10


def mode_label(mode: str, *, threshold: int) -> str:
    """The Spanish description of a publication mode, as written in exports."""
    if mode == MODE_SUPPRESSION:
        return f"Supresión de celdas menores que {threshold}, con supresión secundaria"
    if mode == MODE_CTDC:
        return f"Redondeo hacia abajo a múltiplos de {CTDC_BASE}, publicando solo conteos de al menos {threshold}"
    raise ValueError(f"Unknown publication mode: {mode!r}")


@dataclass(frozen=True)
class Published:
    """A table as it may be published. ``None`` marks a value that is not shown ("suppressed")."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    grand_total: int | None
    mode: str
    threshold: int

    @property
    def mode_label(self) -> str:
        return mode_label(self.mode, threshold=self.threshold)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "mode_label": self.mode_label,
            "threshold": self.threshold,
            "cells": [list(row) for row in self.cells],
            "row_totals": list(self.row_totals),
            "column_totals": list(self.column_totals),
            "grand_total": self.grand_total,
        }


def suppress(
    matrix: list[list[int]], *, threshold: int = DEFAULT_THRESHOLD, forced: frozenset[tuple[int, int]] = frozenset()
) -> Published:
    """Publish ``matrix`` with cell suppression: primary below ``threshold``, then secondary.

    Primary suppression: every value ``v`` with ``0 < v < threshold`` is suppressed, cells *and*
    totals alike. A row total below the threshold thus goes together with all its (necessarily
    small) non-zero cells; a grand total below the threshold takes every non-zero value with it.
    ``forced`` entries of the augmented grid (row ``R`` holds the column totals, column ``C`` the
    row totals; see the module docstring) are suppressed too: what another table of the same
    population hides (stats.publication keeps linked tables consistent).

    Zeros are always published and never chosen as complements. A zero identifies nobody, and
    the analyst needs it to read the table. So a reader knows every suppressed value is at least
    1, and the protection below takes that into account.

    Secondary suppression: while some suppressed value is *unprotected* (see
    :func:`_protected`), the unprotected one with the largest value is taken and the cheapest
    set of published values whose suppression protects it is added: a shortest path closing a
    cycle through it, where an already suppressed entry costs nothing, a published non-zero entry
    costs its value (so the smallest counts go first, and totals, which are at least as large as
    their cells, last), ties broken by fewer new suppressions. Such a path always exists: the true
    table itself is a circulation on its non-zero entries, and adding a copy of it (every value
    grows) is a move nobody can rule out. The choice is a greedy heuristic: safe, not minimal.

    Guarantee: no suppressed value is determined by what is published, even for an attacker who
    uses the additivity of the table, that counts are whole numbers, and that a suppressed value
    is at least 1: for each one there is another whole-number table, with the same published
    values and every suppressed value at least 1, where it differs.

    Raises ``ValueError`` for an empty or ragged matrix, a negative or non-integer count, a
    threshold below 1, or a forced entry outside the grid or on a zero.
    """
    _check_threshold(threshold)
    grid = _augmented(matrix)
    n_rows, n_cols = len(grid), len(grid[0])
    for i, j in forced:
        if not (0 <= i < n_rows and 0 <= j < n_cols) or grid[i][j] == 0:
            raise ValueError(f"Forced entry {(i, j)} is outside the table or zero")
    suppressed = {(i, j) for i in range(n_rows) for j in range(n_cols) if 0 < grid[i][j] < threshold} | set(forced)
    while True:
        adjacency = _adjacency(suppressed, n_rows)
        unprotected = [entry for entry in suppressed if not _protected(grid, adjacency, entry)]
        if not unprotected:
            break
        i, j = max(unprotected, key=lambda entry: (grid[entry[0]][entry[1]], -entry[0], -entry[1]))
        suppressed |= _cheapest_protection(grid, suppressed, row=i, col=j)
    shown = [[None if (i, j) in suppressed else grid[i][j] for j in range(n_cols)] for i in range(n_rows)]
    return Published(
        cells=[row[:-1] for row in shown[:-1]],
        row_totals=[row[-1] for row in shown[:-1]],
        column_totals=shown[-1][:-1],
        grand_total=shown[-1][-1],
        mode=MODE_SUPPRESSION,
        threshold=threshold,
    )


def round_ctdc(matrix: list[list[int]]) -> Published:
    """Publish ``matrix`` by the CTDC rule: each count rounded down to a multiple of 10, counts
    below 10 (zeros included) not shown. Totals are computed from the true cells, then rounded.

    Why this is safe without secondary suppression: every published value is rounded on its
    own, so the published cells no longer add up to the published totals; subtracting published
    cells from a published total gives a number off by an unknown amount between 0 and 9 per
    term, never a hidden cell, and a hidden cell is only known to be below 10. Zeros are hidden
    too, so "nobody" cannot be told apart from "a few people".

    Known limit: integer interval reasoning can still narrow values, and pins them in one
    corner case: when a line's rounded total equals the sum of its cells' upper bounds (each
    rounded value plus 9, hidden ones 9), which needs a multiple of ten cells all ending in 9.
    """
    grid = _augmented(matrix)
    shown = [[value // CTDC_BASE * CTDC_BASE if value >= CTDC_BASE else None for value in row] for row in grid]
    return Published(
        cells=[row[:-1] for row in shown[:-1]],
        row_totals=[row[-1] for row in shown[:-1]],
        column_totals=shown[-1][:-1],
        grand_total=shown[-1][-1],
        mode=MODE_CTDC,
        threshold=CTDC_BASE,
    )


def _check_threshold(threshold: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ValueError(f"The suppression threshold must be a positive integer, not {threshold!r}")


def _augmented(matrix: list[list[int]]) -> list[list[int]]:
    """The matrix with its row totals as last column, column totals as last row, grand total in
    the corner. Validates the input."""
    if not matrix or not matrix[0]:
        raise ValueError("A table needs at least one row and one column")
    width = len(matrix[0])
    for row in matrix:
        if len(row) != width:
            raise ValueError("All rows of a table must have the same number of columns")
        for value in row:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Counts must be non-negative integers, not {value!r}")
    grid = [[*row, sum(row)] for row in matrix]
    grid.append([sum(column) for column in zip(*grid, strict=True)])
    return grid


# -- protection ------------------------------------------------------------------------------
#
# The augmented grid as a bipartite graph: a node per grid row (0..R), a node per grid column
# (R+1..), an edge per entry. With z = s_i * t_j * value, where s_i is -1 on the totals row and
# +1 elsewhere and t_j likewise on the totals column, every line of the grid says "the z of its
# entries sum to zero": the additivity equations are the incidence equations of the graph. So
# the changes that keep every published value are the circulations on the suppressed entries,
# and by conformal decomposition, if any whole-number change of a suppressed value keeps all
# suppressed values >= LOWER_BOUND, one along a single cycle does: +1 and -1 on z alternately
# (+1 on an edge walked from a row node to a column node, -1 walked back), scaled by a direction
# d = +1 or -1. An entry's *value* then changes by d * (+-1) * s_i * t_j, and may go down only if
# it is above LOWER_BOUND.

LOWER_BOUND = 1  # what a reader knows of a suppressed value: zeros are published, so it is >= 1


def _sign(grid: list[list[int]], i: int, j: int) -> int:
    return (-1 if i == len(grid) - 1 else 1) * (-1 if j == len(grid[0]) - 1 else 1)


def _may_move(grid: list[list[int]], i: int, j: int, change: int) -> bool:
    return change > 0 or grid[i][j] - 1 >= LOWER_BOUND


def _adjacency(suppressed: set[tuple[int, int]], n_rows: int) -> dict[int, list[tuple[int, int, int]]]:
    """node -> [(i, j, the node at the other end)] over the suppressed entries."""
    adjacency: dict[int, list[tuple[int, int, int]]] = {}
    for i, j in sorted(suppressed):
        adjacency.setdefault(i, []).append((i, j, n_rows + j))
        adjacency.setdefault(n_rows + j, []).append((i, j, i))
    return adjacency


def _protected(grid: list[list[int]], adjacency: dict[int, list[tuple[int, int, int]]], entry: tuple[int, int]) -> bool:
    """Whether ``entry`` lies on a cycle of suppressed entries along which, in one direction,
    every value that goes down stays at least LOWER_BOUND: then it can change by one and nothing
    published tells the two tables apart."""
    n_rows = len(grid)
    row, col = entry
    for direction in (1, -1):
        if not _may_move(grid, row, col, direction * _sign(grid, row, col)):
            continue
        # Walk from the entry's column node back to its row node over the other entries.
        start, goal = n_rows + col, row
        seen, frontier = {start}, [start]
        while frontier:
            node = frontier.pop()
            if node == goal:
                return True
            for i, j, walked_to in adjacency.get(node, ()):
                if (i, j) == entry or walked_to in seen:
                    continue
                forward = 1 if walked_to >= n_rows else -1  # row node -> column node
                if _may_move(grid, i, j, direction * forward * _sign(grid, i, j)):
                    seen.add(walked_to)
                    frontier.append(walked_to)
    return False


def _cheapest_protection(
    grid: list[list[int]], suppressed: set[tuple[int, int]], *, row: int, col: int
) -> set[tuple[int, int]]:
    """Entries to suppress so that entry (row, col) is protected: the cheapest cycle through it,
    in whichever direction is cheaper (Dijkstra on the complete bipartite graph; published zeros
    are not usable, and an entry may be walked only in a way that keeps it at least LOWER_BOUND)."""
    best_path: tuple[tuple[int, int], set[tuple[int, int]]] | None = None
    for direction in (1, -1):
        if not _may_move(grid, row, col, direction * _sign(grid, row, col)):
            continue
        found = _shortest_closing_path(grid, suppressed, row=row, col=col, direction=direction)
        if found is not None and (best_path is None or found[0] < best_path[0]):
            best_path = found
    if best_path is None:  # pragma: no cover - impossible, see suppress()
        raise AssertionError(f"No cycle can protect entry {(row, col)}")
    return best_path[1]


def _shortest_closing_path(
    grid: list[list[int]], suppressed: set[tuple[int, int]], *, row: int, col: int, direction: int
) -> tuple[tuple[int, int], set[tuple[int, int]]] | None:
    n_rows, n_cols = len(grid), len(grid[0])
    start, goal = n_rows + col, row
    best: dict[int, tuple[int, int]] = {start: (0, 0)}
    previous: dict[int, tuple[int, tuple[int, int]]] = {}
    queue = [(0, 0, start)]
    done: set[int] = set()
    while queue:
        value_cost, count_cost, node = heapq.heappop(queue)
        if node in done:
            continue
        done.add(node)
        if node == goal:
            break
        if node < n_rows:
            neighbours = [(n_rows + j, (node, j), 1) for j in range(n_cols)]
        else:
            neighbours = [(i, (i, node - n_rows), -1) for i in range(n_rows)]
        for neighbour, (i, j), forward in neighbours:
            if (i, j) == (row, col) or neighbour in done:
                continue
            if grid[i][j] == 0 or not _may_move(grid, i, j, direction * forward * _sign(grid, i, j)):
                continue
            step = (0, 0) if (i, j) in suppressed else (grid[i][j], 1)
            candidate = (value_cost + step[0], count_cost + step[1])
            if neighbour not in best or candidate < best[neighbour]:
                best[neighbour] = candidate
                previous[neighbour] = (node, (i, j))
                heapq.heappush(queue, (*candidate, neighbour))
    if goal not in done:
        return None
    path: set[tuple[int, int]] = set()
    node = goal
    while node != start:
        node, entry = previous[node]
        path.add(entry)
    return best[goal], path - suppressed
