"""Fitting a plain-text table to a width: what `tunedeck trials` keeps when the terminal is narrow."""
from __future__ import annotations

from engine.tables.formatting import column_widths, fit_columns, render_table


def test_columns_are_taken_by_preference_and_returned_in_display_order() -> None:
    widths = [2, 9, 13, 5]
    assert fit_columns(widths, [0, 3, 1, 2], width=100) == [0, 1, 2, 3]
    assert fit_columns(widths, [0, 3, 1, 2], width=2 + 2 + 5 + 2 + 9) == [0, 1, 3]  # exactly full
    assert fit_columns(widths, [0, 3, 1, 2], width=2 + 2 + 5 + 2 + 9 - 1) == [0, 3]


def test_a_column_too_wide_is_passed_over_for_narrower_ones() -> None:
    assert fit_columns([2, 40, 3, 3], [0, 1, 2, 3], width=12) == [0, 2, 3]


def test_the_most_wanted_column_stays_even_when_it_alone_overflows() -> None:
    assert fit_columns([20, 2], [0, 1], width=5) == [0]
    assert fit_columns([20, 2], [1, 0], width=5) == [1]


def test_a_fitted_table_is_no_wider_than_asked() -> None:
    headers = ["id", "state", "optim.lr", "best_val_loss"]
    rows = [[1, "completed", 0.01, 0.25], [2, "early_stopped", 1e-4, None]]
    widths = column_widths(headers, rows)
    assert widths == [2, 13, 9, 13]  # 1.000e-04 is nine cells
    keep = fit_columns(widths, [0, 1, 3, 2], width=40)
    lines = render_table([headers[i] for i in keep], [[r[i] for i in keep] for r in rows]).splitlines()
    assert lines[0].split() == ["id", "state", "best_val_loss"] and max(map(len, lines)) <= 40
