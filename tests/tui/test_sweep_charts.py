"""The sweep charts alone: importance bars in eighths, scatter points, the grid of small plots."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.events import TrialState
from engine.sweeps.results import SweepResults, TrialPoint
from engine.sweeps.spec import parse_search
from tests.tui.test_sweep_views import BASE, SEARCH
from tui.plotting.scatter import (
    GRID_MIN_HEIGHT,
    GRID_MIN_WIDTH,
    build_grid,
    build_scatter,
    grid_layout,
    knob_points,
    thin,
)
from tui.screens.sweep_analysis import importance_note, knob_order, progress_text
from tui.widgets.importance_bars import ImportanceBars, bar, bar_rows, ordered_shares, short_key

# --- the pure parts -------------------------------------------------------------------------------

def eighths(cells: str) -> int:
    """A bar's length in eighths of a cell."""
    return sum(8 if c == "█" else "▏▎▍▌▋▊▉".index(c) + 1 for c in cells.rstrip())


def test_bars_scale_to_the_largest_share_in_eighths() -> None:
    assert bar(1.0, 10) == "█" * 10
    assert bar(0.5, 10) == "█" * 5
    assert bar(0.55, 10) == "█" * 5 + "▌"
    assert bar(0.0, 10) == "" and bar(math.nan, 10) == "" and bar(2.0, 4) == "████" and bar(-1, 4) == ""
    rows = bar_rows({"a.x": 0.2, "b.y": 0.6, "c.z": 0.2}, 60)
    assert [label.strip() for label, _, _ in rows] == ["b.y", "a.x", "c.z"]  # largest first, ties by name
    width = len(rows[0][1])
    assert rows[0][1] == "█" * width
    assert abs(eighths(rows[1][1]) - width * 8 / 3) <= 0.5
    assert all(len(" ".join(row)) == 60 for row in rows)
    assert [pct.strip() for _, _, pct in rows] == ["60.0%", "20.0%", "20.0%"]


def test_shares_are_cleaned_and_normalised() -> None:
    shares = ordered_shares({"a": 2.0, "b": 1.0, "c": math.nan, "d": -1, "e": "x", "f": 1.0})
    assert shares == [("a", 0.5), ("b", 0.25), ("f", 0.25)]
    assert ordered_shares({}) == [] and ordered_shares({"a": 0.0}) == [("a", 0.0)]
    assert short_key("task.options.a_very_long_option_name", 16) == "…ong_option_name"
    bars = ImportanceBars()
    bars.show({"optim.lr": 0.7, "model.hidden": 0.3})
    assert [line.split()[0] for line in bars.plain_lines(80)] == ["optim.lr", "model.hidden"]
    assert all(len(line) <= 80 for line in bars.plain_lines(80))
    bars.show({})
    assert "needs two completed trials" in bars.plain_lines(80)[0]
    bars.show({}, "one completed trial so far")
    assert bars.plain_lines(80) == ["one completed trial so far"]


def synthetic(n: int, seed: int = 0) -> SweepResults:
    """A sweep's results with n completed trials, without training or a store."""
    rng = np.random.default_rng(seed)
    spec = parse_search(SEARCH, BASE)
    from engine.store.sweeps import SweepRecord

    record = SweepRecord(1, "synthetic", "completed", None, spec.to_dict(), BASE.to_dict(), n, counts={"completed": n})
    points = tuple(TrialPoint(i + 1, TrialState.COMPLETED,
                              {"optim.lr": float(10 ** rng.uniform(-4, -1)), "model.hidden": ((8,), (16,))[i % 2],
                               "reg.dropout": float(rng.uniform(0, 0.4))}, float(rng.random()), None)
                   for i in range(n))
    return SweepResults(record, spec, points)


def test_knob_points_log_and_choice_axes_and_the_best_trial() -> None:
    results = synthetic(50)
    best = results.best
    assert best is not None
    lr = knob_points(results, "optim.lr")
    assert lr.log_x and lr.labels is None and np.all(lr.xs < -0.99) and np.all(lr.xs > -4.01)
    assert lr.best == pytest.approx((math.log10(best.values["optim.lr"]), best.objective))
    hidden = knob_points(results, "model.hidden")
    assert hidden.labels == ("[8]", "[16]") and set(hidden.xs.tolist()) == {0.0, 1.0}
    assert hidden.best_trial == best.trial_id
    chart = build_scatter(results, "model.hidden", 80, 20)
    assert chart.text is not None and "[8]" in chart.text and "[16]" in chart.text
    assert f"best #{best.trial_id}" in chart.text


def test_a_thousand_trials_reach_plotext_thinned_to_the_pixels() -> None:
    results = synthetic(1000)
    chart = build_scatter(results, "reg.dropout", 40, 12)
    assert chart.text is not None and chart.n_points <= 2 * 40 * 2 * 12
    grid = build_grid(results, ["optim.lr", "model.hidden", "reg.dropout"], 120, 30)
    assert grid.text is not None and grid.n_points < 3 * 1000
    x = np.arange(1000.0)
    tx, ty = thin(x, np.zeros(1000), (0, 1000, -1, 1), 10, 4)
    assert len(tx) == 10 and len(ty) == 10


def test_grid_layout_keeps_every_plot_readable() -> None:
    for n, width, height in ((3, 72, 11), (3, 116, 25), (5, 120, 30), (9, 80, 20), (1, 30, 10), (4, 20, 8)):
        rows, cols, shown = grid_layout(n, width, height)
        assert shown <= n and rows * cols >= shown
        if shown:
            assert width // cols >= GRID_MIN_WIDTH and height // rows >= GRID_MIN_HEIGHT
    assert grid_layout(3, 116, 25)[2] == 3
    assert grid_layout(4, 20, 8) == (0, 0, 0)


def test_progress_note_and_knob_order() -> None:
    results = synthetic(4)
    assert progress_text(results.record) == "4 of 4 done: 4 completed, 0 pruned, 0 failed"
    assert knob_order(results, {"reg.dropout": 0.7, "optim.lr": 0.3}) == ["reg.dropout", "optim.lr", "model.hidden"]
    assert "4 completed trials" in importance_note(results, {"optim.lr": 1.0})
    one = SweepResults(results.record, results.spec, results.points[:1])
    assert importance_note(one, {}).startswith("one completed trial so far")
    same = SweepResults(results.record, results.spec, (results.points[0], results.points[0]))
    assert "all used the same values" in importance_note(same, {})
