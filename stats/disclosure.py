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

Seen as a bipartite graph (one node per grid row, one per grid column, one edge per suppressed
entry), the equations restricted to the suppressed entries are the incidence equations of that
graph, whose solutions with zero right-hand side are its cycles. A suppressed entry is therefore
uniquely determined by the published values exactly when it is a *bridge* of the graph (lies on
no cycle); it is protected exactly when it lies on a cycle. This is the criterion used here.
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


def suppress(matrix: list[list[int]], *, threshold: int = DEFAULT_THRESHOLD) -> Published:
    """Publish ``matrix`` with cell suppression: primary below ``threshold``, then secondary.

    Primary suppression: every value ``v`` with ``0 < v < threshold`` is suppressed, cells *and*
    totals alike. A row total below the threshold thus goes together with all its (necessarily
    small) non-zero cells; a grand total below the threshold takes every non-zero value with it.

    Zeros are always published and never chosen as complements. A zero identifies nobody, and
    the analyst needs it to read the table. (Known limits, both outside the criterion below: a
    zero can tell an attribute of a whole group, e.g. "all victims detected in region X were
    women"; and because a suppressed value is then known to be at least 1, two suppressed cells
    of one line whose difference from the total is 2 are both 1.)

    Secondary suppression: while some suppressed entry of the augmented table (see the module
    docstring) is a bridge of the suppressed-entries graph, the bridge with the largest value is
    taken and the cheapest path closing a cycle through it is added: a shortest path between
    its two endpoints, where an already suppressed entry costs nothing, a published non-zero
    entry costs its value (so the smallest counts go first, and totals, which are at least as
    large as their cells, last), ties broken by fewer new suppressions. Such a path always exists,
    because the true table itself, margins negated, is a circulation on its non-zero entries.
    The choice is a greedy heuristic: it is safe, not guaranteed minimal.

    Guarantee: no suppressed value is uniquely determined by the linear system formed by the
    additivity of the table and the published values. Non-negativity and integrality are
    ignored (an attacker using them can narrow a suppressed value to an interval, which this
    function does not bound).

    Raises ``ValueError`` for an empty or ragged matrix, a negative or non-integer count, or a
    threshold below 1.
    """
    _check_threshold(threshold)
    grid = _augmented(matrix)
    n_rows, n_cols = len(grid), len(grid[0])
    suppressed = {(i, j) for i in range(n_rows) for j in range(n_cols) if 0 < grid[i][j] < threshold}
    while bridges := _bridges(suppressed, n_rows=n_rows, n_cols=n_cols):
        i, j = max(bridges, key=lambda entry: (grid[entry[0]][entry[1]], -entry[0], -entry[1]))
        suppressed |= _cheapest_cycle_completion(grid, suppressed, row=i, col=j)
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


def _bridges(edges: set[tuple[int, int]], *, n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    """The bridges of the bipartite graph with row nodes 0..n_rows-1, column nodes n_rows..,
    and an edge (i, j) per entry. Tarjan's low-link, iterative (the graph has no multi-edges, so
    skipping the edge back to the parent node is enough)."""
    n_nodes = n_rows + n_cols
    adjacency: list[list[int]] = [[] for _ in range(n_nodes)]
    for i, j in sorted(edges):
        adjacency[i].append(n_rows + j)
        adjacency[n_rows + j].append(i)
    order = [-1] * n_nodes
    low = [0] * n_nodes
    counter = 0
    found: list[tuple[int, int]] = []
    for root in range(n_nodes):
        if order[root] != -1 or not adjacency[root]:
            continue
        order[root] = low[root] = counter
        counter += 1
        stack = [(root, -1, iter(adjacency[root]))]
        while stack:
            node, parent, neighbours = stack[-1]
            advanced = False
            for neighbour in neighbours:
                if neighbour == parent:
                    continue
                if order[neighbour] == -1:
                    order[neighbour] = low[neighbour] = counter
                    counter += 1
                    stack.append((neighbour, node, iter(adjacency[neighbour])))
                    advanced = True
                    break
                low[node] = min(low[node], order[neighbour])
            if advanced:
                continue
            stack.pop()
            if parent != -1:
                low[parent] = min(low[parent], low[node])
                if low[node] > order[parent]:
                    row, col = (parent, node) if parent < n_rows else (node, parent)
                    found.append((row, col - n_rows))
    return found


def _cheapest_cycle_completion(
    grid: list[list[int]], suppressed: set[tuple[int, int]], *, row: int, col: int
) -> set[tuple[int, int]]:
    """Entries to suppress so that entry (row, col) lies on a cycle: the cheapest path from its
    row node to its column node not using the entry itself (Dijkstra on the complete bipartite
    graph; published zeros are not usable)."""
    n_rows, n_cols = len(grid), len(grid[0])
    start, goal = row, n_rows + col
    best: dict[int, tuple[int, int]] = {start: (0, 0)}
    previous: dict[int, int] = {}
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
            neighbours = [(n_rows + j, (node, j)) for j in range(n_cols)]
        else:
            neighbours = [(i, (i, node - n_rows)) for i in range(n_rows)]
        for neighbour, entry in neighbours:
            if entry == (row, col) or neighbour in done:
                continue
            if entry in suppressed:
                step = (0, 0)
            elif grid[entry[0]][entry[1]] == 0:
                continue
            else:
                step = (grid[entry[0]][entry[1]], 1)
            candidate = (value_cost + step[0], count_cost + step[1])
            if neighbour not in best or candidate < best[neighbour]:
                best[neighbour] = candidate
                previous[neighbour] = node
                heapq.heappush(queue, (*candidate, neighbour))
    if goal not in done:  # pragma: no cover - impossible for a non-zero entry, see suppress()
        raise AssertionError(f"No cycle can protect entry {(row, col)}")
    path: set[tuple[int, int]] = set()
    node = goal
    while node != start:
        before = previous[node]
        path.add((before, node - n_rows) if before < n_rows else (node, before - n_rows))
        node = before
    return path
