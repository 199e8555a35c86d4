"""Disclosure control (stats/disclosure.py): hand-worked tables and the property the issue demands,
that no suppressed value of a published table can be recomputed from what is published.

Derivability is checked here independently of the graph (cycle) logic the module uses to choose
cells, twice: by exact rational Gaussian elimination over the table's additivity equations (what
linear algebra alone gives back), and by linear programming (scipy's HiGHS): the smallest and the
largest value each hidden entry can take in a table with the same published values, whole
numbers and every hidden value at least 1 (zeros are published). The constraint matrix of a
table's additivity is totally unimodular, so those optima are whole numbers: a hidden value is
given back exactly when its minimum equals its maximum."""

from fractions import Fraction

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from stats.disclosure import MODE_CTDC, MODE_SUPPRESSION, Published, round_ctdc, suppress

# -- the independent oracle -------------------------------------------------------------------


def _unknowns(published: Published) -> list[tuple]:
    """Every value not shown, named: ("cell", i, j), ("row", i), ("column", j), ("grand",)."""
    names: list[tuple] = [
        ("cell", i, j) for i, row in enumerate(published.cells) for j, value in enumerate(row) if value is None
    ]
    names += [("row", i) for i, value in enumerate(published.row_totals) if value is None]
    names += [("column", j) for j, value in enumerate(published.column_totals) if value is None]
    if published.grand_total is None:
        names.append(("grand",))
    return names


def _additivity_equations(n_rows: int, n_cols: int) -> list[dict[tuple, int]]:
    """The linear equations any table satisfies, as {variable: coefficient} summing to zero."""
    equations = []
    for i in range(n_rows):
        equations.append({**{("cell", i, j): 1 for j in range(n_cols)}, ("row", i): -1})
    for j in range(n_cols):
        equations.append({**{("cell", i, j): 1 for i in range(n_rows)}, ("column", j): -1})
    equations.append({**{("row", i): 1 for i in range(n_rows)}, ("grand",): -1})
    equations.append({**{("column", j): 1 for j in range(n_cols)}, ("grand",): -1})
    return equations


def _row_echelon(rows: list[list[Fraction]]) -> list[tuple[int, list[Fraction]]]:
    """Reduced row echelon form, as (pivot column, row with a 1 at the pivot)."""
    basis: list[tuple[int, list[Fraction]]] = []
    for row in rows:
        row = list(row)
        for pivot, base in basis:
            if row[pivot]:
                factor = row[pivot]
                row = [a - factor * b for a, b in zip(row, base, strict=True)]
        pivot = next((k for k, a in enumerate(row) if a), None)
        if pivot is None:
            continue
        row = [a / row[pivot] for a in row]
        basis = [(p, [a - b[pivot] * c for a, c in zip(b, row, strict=True)]) if b[pivot] else (p, b) for p, b in basis]
        basis.append((pivot, row))
    return basis


def derivable_values(published: Published) -> list[tuple]:
    """The hidden values that the published ones determine uniquely (non-negativity ignored).

    Published values move to the right-hand side, so the equations on the hidden values keep
    only their coefficients; a hidden value is determined iff its unit vector lies in the row
    space of that coefficient matrix."""
    unknowns = _unknowns(published)
    if not unknowns:
        return []
    index = {name: k for k, name in enumerate(unknowns)}
    rows = []
    for equation in _additivity_equations(len(published.cells), len(published.cells[0])):
        row = [Fraction(0)] * len(unknowns)
        for name, coefficient in equation.items():
            if name in index:
                row[index[name]] = Fraction(coefficient)
        rows.append(row)
    basis = _row_echelon(rows)
    derivable = []
    for k, name in enumerate(unknowns):
        vector = [Fraction(int(k == m)) for m in range(len(unknowns))]
        for pivot, base in basis:
            if vector[pivot]:
                factor = vector[pivot]
                vector = [a - factor * b for a, b in zip(vector, base, strict=True)]
        if not any(vector):
            derivable.append(name)
    return derivable


def truth(matrix: list[list[int]]) -> Published:
    return Published(
        cells=[list(row) for row in matrix],
        row_totals=[sum(row) for row in matrix],
        column_totals=[sum(column) for column in zip(*matrix, strict=True)],
        grand_total=sum(map(sum, matrix)),
        mode="verdad",
        threshold=0,
    )


def hidden_ranges(published: Published) -> dict[tuple, tuple[int, int] | None]:
    """Each hidden value's (minimum, maximum) over every table with the same published values,
    additivity, and hidden values of at least 1; None where unbounded above."""
    unknowns = _unknowns(published)
    index = {name: k for k, name in enumerate(unknowns)}
    known = {("cell", i, j): v for i, row in enumerate(published.cells) for j, v in enumerate(row) if v is not None}
    known |= {("row", i): v for i, v in enumerate(published.row_totals) if v is not None}
    known |= {("column", j): v for j, v in enumerate(published.column_totals) if v is not None}
    if published.grand_total is not None:
        known[("grand",)] = published.grand_total
    a_eq, b_eq = [], []
    for equation in _additivity_equations(len(published.cells), len(published.cells[0])):
        row = [0.0] * len(unknowns)
        rhs = 0.0
        for name, coefficient in equation.items():
            if name in index:
                row[index[name]] = coefficient
            else:
                rhs -= coefficient * known[name]
        if any(row):
            a_eq.append(row)
            b_eq.append(rhs)
    ranges = {}
    for name, k in index.items():
        objective = numpy.zeros(len(unknowns))
        ends = []
        for sign in (1, -1):
            objective[k] = sign
            result = linprog(
                objective, A_eq=a_eq or None, b_eq=b_eq or None, bounds=[(1, None)] * len(unknowns), method="highs"
            )
            assert result.status in (0, 3), result.message  # optimal or unbounded, never infeasible
            ends.append(None if result.status == 3 else round(sign * result.fun))
        ranges[name] = (ends[0], ends[1])
    return ranges


def pinned_values(published: Published) -> list[tuple]:
    """The hidden values whose smallest and largest possible values coincide."""
    return [name for name, (low, high) in hidden_ranges(published).items() if low == high]


def shown_pairs(published: Published, true: Published):
    """(published, true) for every value of the table, cells and totals."""
    for shown_row, true_row in zip(published.cells, true.cells, strict=True):
        yield from zip(shown_row, true_row, strict=True)
    yield from zip(published.row_totals, true.row_totals, strict=True)
    yield from zip(published.column_totals, true.column_totals, strict=True)
    yield published.grand_total, true.grand_total


def test_oracle_finds_a_lone_suppressed_cell_derivable_from_its_totals():
    published = Published([[None, 7], [8, 9]], [10, 17], [11, 16], 27, MODE_SUPPRESSION, 5)
    assert derivable_values(published) == [("cell", 0, 0)]


def test_oracle_finds_a_single_row_table_with_two_hidden_cells_derivable_through_the_column_totals():
    published = Published([[None, None, 20]], [33], [3, 10, 20], 33, MODE_SUPPRESSION, 5)
    assert derivable_values(published) == [("cell", 0, 0), ("cell", 0, 1)]


def test_oracle_accepts_four_hidden_cells_of_a_two_by_two_table():
    published = Published([[None, None], [None, None]], [10, 17], [11, 16], 27, MODE_SUPPRESSION, 5)
    assert derivable_values(published) == []


# -- suppression, by hand ---------------------------------------------------------------------


def test_small_cell_of_a_two_by_two_table_takes_the_other_three_cells_with_it():
    published = suppress([[3, 7], [8, 9]])

    assert published.cells == [[None, None], [None, None]]
    assert (published.row_totals, published.column_totals, published.grand_total) == ([10, 17], [11, 16], 27)
    assert derivable_values(published) == []


def test_small_cell_of_a_three_by_three_table_is_protected_by_the_cheapest_rectangle_of_three_cells():
    # Closing a cycle through (0, 0): 10 + 15 + 30 = 55 beats 20 + 40 + 15 and 10 + 50 + 25.
    published = suppress([[2, 10, 20], [15, 30, 40], [25, 50, 60]])

    assert published.cells == [[None, None, 20], [None, None, 40], [25, 50, 60]]
    assert (published.row_totals, published.column_totals, published.grand_total) == ([32, 85, 135], [42, 90, 120], 252)
    assert derivable_values(published) == []


def test_one_column_table_hides_a_second_row_besides_the_small_one():
    # A row total equals its only cell, so it goes too; the next-smallest row keeps it company.
    published = suppress([[30], [3], [10]])

    assert published.cells == [[30], [None], [None]]
    assert published.row_totals == [30, None, None]
    assert (published.column_totals, published.grand_total) == ([43], 43)
    assert derivable_values(published) == []


def test_one_row_table_hides_a_second_column_besides_the_small_one():
    published = suppress([[3, 10, 20]])

    assert published.cells == [[None, None, 20]]
    assert published.column_totals == [None, None, 20]
    assert (published.row_totals, published.grand_total) == ([33], 33)
    assert derivable_values(published) == []


def test_table_of_large_counts_is_published_untouched():
    matrix = [[10, 20, 5], [30, 40, 6]]

    published = suppress(matrix)

    assert published == Published(matrix, [35, 76], [40, 60, 11], 111, MODE_SUPPRESSION, 5)


def test_grand_total_below_the_threshold_hides_every_count_but_the_zeros():
    published = suppress([[1, 2], [0, 1]])

    assert published.cells == [[None, None], [0, None]]
    assert published.row_totals == [None, None]
    assert published.column_totals == [None, None]
    assert published.grand_total is None
    assert derivable_values(published) == []


def test_row_total_below_the_threshold_is_hidden_with_its_cells_and_protected_by_the_next_row():
    published = suppress([[1, 2, 0], [10, 20, 30], [40, 50, 60]])

    assert published.cells == [[None, None, 0], [None, None, 30], [40, 50, 60]]
    assert published.row_totals == [None, None, 150]
    assert (published.column_totals, published.grand_total) == ([51, 72, 90], 213)
    assert derivable_values(published) == []


def test_zeros_are_published_and_never_used_to_protect_a_small_cell():
    # Column 0 is all zeros, so the protection of the 3 has to go through the row totals.
    published = suppress([[0, 12], [0, 3]])

    assert published.cells == [[0, None], [0, None]]
    assert published.row_totals == [None, None]
    assert (published.column_totals, published.grand_total) == ([0, 15], 15)
    assert derivable_values(published) == []


def test_oracle_finds_two_hidden_ones_pinned_by_a_total_two_above_the_rest():
    # Femenino 1, 1, 20 (total 22): the two hidden cells add up to 2, so both are 1.
    # With the column totals hidden too, linear algebra alone gives nothing back, but since each
    # hidden value is at least 1, the four are pinned all the same.
    published = Published([[None, None, 20], [0, 0, 30]], [22, 30], [None, None, 50], 52, MODE_SUPPRESSION, 5)
    assert derivable_values(published) == []
    assert pinned_values(published) == [("cell", 0, 0), ("cell", 0, 1), ("column", 0), ("column", 1)]


def test_two_small_cells_whose_difference_from_the_total_is_two_are_not_left_pinned():
    """Review finding: zeros are published, so hidden values are at least 1; hiding only the
    two 1s of a row whose other cell is shown gives both back."""
    published = suppress([[1, 1, 20], [0, 0, 30], [0, 0, 0]])

    assert published.cells[0] == [None, None, None]
    assert pinned_values(published) == []
    assert derivable_values(published) == []


def test_a_value_that_cannot_go_below_one_is_protected_by_going_up():
    # Every value of a one-cell table is 1: hidden, it can only be told to be at least 1.
    published = suppress([[1]])
    assert hidden_ranges(published) == {
        ("cell", 0, 0): (1, None),
        ("row", 0): (1, None),
        ("column", 0): (1, None),
        ("grand",): (1, None),
    }


def test_forced_entries_are_suppressed_and_protected():
    published = suppress([[10, 20], [30, 40]], forced=frozenset({(2, 0)}))  # the first column total
    assert published.column_totals[0] is None
    assert pinned_values(published) == []


@pytest.mark.parametrize("forced", [{(5, 0)}, {(0, 5)}, {(0, 0)}])
def test_a_forced_entry_outside_the_grid_or_on_a_zero_is_refused(forced):
    with pytest.raises(ValueError):
        suppress([[0, 20], [30, 40]], forced=frozenset(forced))


def test_table_of_zeros_is_published_whole():
    assert suppress([[0, 0], [0, 0]]).cells == [[0, 0], [0, 0]]


def test_threshold_is_configurable():
    assert suppress([[7, 30], [30, 30]]).cells == [[7, 30], [30, 30]]
    assert suppress([[7, 30], [30, 30]], threshold=10).cells == [[None, None], [None, None]]


def test_suppression_mode_is_described_in_spanish_with_its_threshold():
    assert suppress([[1]], threshold=5).as_dict() == {
        "mode": "supresion",
        "mode_label": "Supresión de celdas menores que 5, con supresión secundaria",
        "threshold": 5,
        "cells": [[None]],
        "row_totals": [None],
        "column_totals": [None],
        "grand_total": None,
    }


@pytest.mark.parametrize(
    ("matrix", "threshold"),
    [([], 5), ([[]], 5), ([[1, 2], [3]], 5), ([[1, -1]], 5), ([[1.5]], 5), ([[True]], 5), ([[1]], 0)],
)
def test_malformed_table_or_threshold_is_refused(matrix, threshold):
    with pytest.raises(ValueError):
        suppress(matrix, threshold=threshold)


# -- CTDC rounding, by hand ---------------------------------------------------------------------


def test_ctdc_rounds_down_to_tens_and_hides_counts_below_ten():
    published = round_ctdc([[3, 17], [25, 9]])

    assert published.cells == [[None, 10], [20, None]]
    assert published.row_totals == [20, 30]  # true 20 and 34
    assert published.column_totals == [20, 20]  # true 28 and 26
    assert published.grand_total == 50  # true 54
    assert published.mode_label == "Redondeo hacia abajo a múltiplos de 10, publicando solo conteos de al menos 10"


def test_ctdc_hides_zeros_like_any_count_below_ten():
    assert round_ctdc([[0, 10]]).cells == [[None, 10]]


def test_ctdc_refuses_a_negative_count():
    with pytest.raises(ValueError):
        round_ctdc([[-1]])


# -- properties ---------------------------------------------------------------------------------

# Small counts and zeros about as often as large ones, so suppression patterns are rich.
counts = st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 9), st.integers(10, 60), st.integers(61, 1000))
tables = st.integers(1, 6).flatmap(
    lambda n_rows: st.integers(1, 6).flatmap(
        lambda n_cols: st.lists(st.lists(counts, min_size=n_cols, max_size=n_cols), min_size=n_rows, max_size=n_rows)
    )
)
thresholds = st.one_of(st.just(5), st.integers(1, 12))
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True)


@PROPERTY_SETTINGS
@given(matrix=tables, threshold=thresholds)
def test_no_suppressed_value_of_a_random_table_can_be_recomputed_from_the_published_ones(matrix, threshold):
    published = suppress(matrix, threshold=threshold)
    true = truth(matrix)
    pairs = list(shown_pairs(published, true))

    assert derivable_values(published) == []
    assert pinned_values(published) == []
    assert all(shown is None for shown, value in pairs if 0 < value < threshold)
    assert all(shown == value for shown, value in pairs if shown is not None)
    assert all(shown == 0 for shown, value in pairs if value == 0)
    assert suppress(matrix, threshold=threshold) == published


@PROPERTY_SETTINGS
@given(matrix=tables)
def test_ctdc_publishes_only_multiples_of_ten_of_at_least_ten_never_above_the_truth(matrix):
    published = round_ctdc(matrix)

    assert (published.mode, published.threshold) == (MODE_CTDC, 10)
    for shown, value in shown_pairs(published, truth(matrix)):
        if value >= 10:
            assert shown is not None
            assert shown % 10 == 0
            assert 10 <= shown <= value < shown + 10
        else:
            assert shown is None
