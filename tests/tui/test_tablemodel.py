"""Column choice, cell text and sort/filter cycling of the trial table, without a terminal."""
from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.tables.frames import TRIAL_SCHEMA
from tui.tablemodel import (
    ELLIPSIS,
    cell_width,
    choose_columns,
    fit,
    format_duration,
    format_float,
    format_value,
    header_labels,
    layout_columns,
    next_filter,
    next_sort,
    states_present,
)


def frame_of(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A trial frame with the engine's schema; columns not given are null (constant)."""
    data = {key: [row.get(key) for row in rows] for key in TRIAL_SCHEMA}
    return pl.DataFrame(data, schema=TRIAL_SCHEMA)


@pytest.mark.parametrize(("value", "text"), [
    (0.001, "0.001"), (0.0001, "0.0001"), (1e-05, "1e-05"), (0.123456, "0.1235"), (2.0, "2"),
    (12345.678, "1.235e+04"), (-0.5, "-0.5"), (math.nan, "nan"), (math.inf, "inf"),
])
def test_floats_keep_four_significant_digits(value: float, text: str) -> None:
    assert format_float(value) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0.04, "0.0s"), (12.34, "12.3s"), (59.9, "59.9s"), (245.0, "4m05s"), (3725.0, "1h02m"),
])
def test_durations_read_in_the_largest_useful_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("kind", ["int", "float", "bool", "str", "duration"])
def test_null_is_a_dash_whatever_the_column(kind: str) -> None:
    assert format_value(None, kind) == "-"  # type: ignore[arg-type]


def test_values_by_kind() -> None:
    assert format_value(0.001, "float") == "0.001"
    assert format_value(245.0, "duration") == "4m05s"
    assert format_value(True, "bool") == "true"
    assert format_value(12, "int") == "12"
    assert format_value("two\nlines", "str") == "two lines"


def test_fit_pads_aligns_and_cuts_with_an_ellipsis() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abc", 5, right=True) == "  abc"
    assert fit("abcdefgh", 5) == "abcd" + ELLIPSIS
    assert fit("abcdefgh", 1) == ELLIPSIS
    assert fit("abc", 0) == ""
    wide = fit("日本語の名前", 7)
    assert cell_width(wide) == 7 and wide.endswith(ELLIPSIS)


def test_columns_are_identity_then_varying_knobs_then_results() -> None:
    frame = frame_of([
        {"id": 1, "name": "a", "state": "completed", "optim.lr": 0.1, "reg.dropout": 0.5, "run.seed": 1},
        {"id": 2, "name": "b", "state": "failed", "optim.lr": 0.01, "reg.dropout": 0.5, "run.seed": 2},
    ])
    assert choose_columns(frame) == ["id", "state", "name", "optim.lr", "run.seed", "best_val_loss",
                                     "val_acc_at_best", "max_val_acc", "test_acc", "epochs_run", "duration_s"]
    single = frame.head(1)
    assert choose_columns(single) == ["id", "state", "name", "best_val_loss", "val_acc_at_best", "max_val_acc", "test_acc",
                                      "epochs_run", "duration_s"]


def test_knob_headers_are_short_unless_ambiguous() -> None:
    labels = header_labels(["optim.lr", "name", "task.name", "duration_s", "optim.patience",
                            "early_stop.patience"])
    assert labels == {"optim.lr": "lr", "name": "name", "task.name": "task.name", "duration_s": "duration",
                      "optim.patience": "optim.patience", "early_stop.patience": "early_stop.patience"}


def test_widths_fit_headers_with_the_sort_arrow_and_cap_long_text() -> None:
    frame = frame_of([
        {"id": 1, "name": "x" * 60, "state": "early_stopped", "best_val_loss": 0.001, "duration_s": 3725.0},
        {"id": 12345, "name": "y", "state": "completed", "best_val_loss": None, "duration_s": 1.0},
    ])
    columns = {c.key: c for c in layout_columns(frame, ["id", "name", "state", "best_val_loss", "duration_s"])}
    assert columns["id"].width == 5 and columns["id"].right_aligned
    assert columns["name"].width == 24 and not columns["name"].right_aligned
    assert columns["state"].width == len("early_stopped")
    assert columns["best_val_loss"].width == len("best_val_loss") + 1
    assert columns["duration_s"].width == len("duration") + 1
    assert columns["duration_s"].kind == "duration"


finite = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), finite), min_size=1, max_size=30))
def test_a_float_column_is_wide_enough_for_every_value(values: list[float | None]) -> None:
    frame = frame_of([{"id": i, "optim.lr": v} for i, v in enumerate(values)])
    (column,) = layout_columns(frame, ["optim.lr"])
    widest = max(len(format_value(v, "float")) for v in values)
    assert widest <= column.width
    assert column.width <= 11  # "-1.234e+100" at most


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e7), min_size=1, max_size=20))
def test_a_duration_column_is_wide_enough_for_every_value(values: list[float]) -> None:
    frame = frame_of([{"id": i, "duration_s": v} for i, v in enumerate(values)])
    (column,) = layout_columns(frame, ["duration_s"])
    assert max(len(format_duration(v)) for v in values) <= column.width


def test_sort_cycles_through_the_columns_both_ways() -> None:
    keys = ["id", "state", "lr"]
    assert next_sort(keys, None) == "id"
    assert next_sort(keys, None, -1) == "lr"
    assert next_sort(keys, "id") == "state"
    assert next_sort(keys, "lr") == "id"
    assert next_sort(keys, "id", -1) == "lr"
    assert next_sort(keys, "gone") == "id"


def test_filter_cycles_all_then_each_state_present_in_lifecycle_order() -> None:
    frame = frame_of([{"id": i, "state": s} for i, s in enumerate(["failed", "completed", "queued", "failed"])])
    states = states_present(frame)
    assert states == ["queued", "completed", "failed"]
    seen = [next_filter(states, None)]
    while seen[-1] is not None:
        seen.append(next_filter(states, seen[-1]))
    assert seen == ["queued", "completed", "failed", None]
    assert next_filter(states, "pruned") is None
    assert next_filter(states, None, -1) == "failed"
    assert states_present(frame.head(0)) == []
