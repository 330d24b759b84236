"""The UI's work per tick does not grow with the history: counts of points, never seconds.

A running trial is fed 10^5 scripted epochs (5 metrics each, plus 2 step losses) in ticks of 1,000
epochs, through the same path as the cockpit's tick (LiveTrials.apply on the follower's Update,
then PlotData.series for the plot): the points handed to the plot and the points kept per curve
stay under a bound fixed by the curve's capacity, from the first full tick to the last.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.config.presets import load_preset
from engine.events import TrialStarted
from engine.store import Store
from engine.tables.follower import Update
from tests.tui.scripted import ENV
from tui.live import STEP_METRIC, LiveTrials
from tui.plotdata import PlotData
from tui.plotting.chart import build_chart
from tui.plotting.stream import DEFAULT_CAPACITY, StreamCurve

EPOCHS = 100_000
PER_TICK = 1_000
BOUND = 2 * DEFAULT_CAPACITY + 1  # points a curve hands the plot, at most


def rows(trial_id: int, first: int, last: int) -> list[tuple[int, int, int, str, float]]:
    out = []
    for epoch in range(first, last + 1):
        loss = 1.0 / epoch + 0.01 * np.sin(epoch)
        for k in (1, 2):
            out.append((trial_id, epoch, 2 * (epoch - 1) + k, STEP_METRIC, loss * 1.1))
        out += [(trial_id, epoch, 2 * epoch, "train_loss", loss * 1.05), (trial_id, epoch, 2 * epoch, "val_loss", loss),
                (trial_id, epoch, 2 * epoch, "val_acc", 1 - loss), (trial_id, epoch, 2 * epoch, "lr", 0.01),
                (trial_id, epoch, 2 * epoch, "epoch_seconds", 0.01)]
    return out


def test_points_per_tick_and_points_kept_stay_bounded_over_1e5_epochs(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    trial_id = store.create_trial(load_preset("toy2d-mlp"))
    store.start_trial(trial_id, TrialStarted("cpu", 65, 700, 150, 150, 2, "binary", 1), ENV)
    live = LiveTrials(store)
    plotdata = PlotData(store, live)
    live.apply(Update([store.trial(trial_id)], []))
    plotted: list[int] = []
    kept: list[int] = []
    for first in range(1, EPOCHS + 1, PER_TICK):
        live.apply(Update([], rows(trial_id, first, first + PER_TICK - 1)))
        series = plotdata.series([trial_id], "loss", False) + plotdata.series([trial_id], "loss", True)
        plotted.append(sum(len(s.xs) for s in series))
        curves = live.get(trial_id).curves  # type: ignore[union-attr]
        kept.append(sum(len(c._lo_y) + len(c._hi_y) for c in curves.values()))
    assert live.get(trial_id).count("val_loss") == EPOCHS  # type: ignore[union-attr]
    assert live.get(trial_id).count(STEP_METRIC) == 2 * EPOCHS  # type: ignore[union-attr]
    # 3 curves plotted (train, val; the smoothed steps): bounded, and no larger at the end than once full
    assert max(plotted) <= 3 * BOUND
    full = next(i for i, n in enumerate(plotted) if n > 2 * DEFAULT_CAPACITY)
    assert max(plotted[full:]) <= 3 * BOUND and plotted[-1] <= max(plotted[full:full + 5]) + 3
    assert max(kept) <= 7 * 2 * DEFAULT_CAPACITY  # 7 curves of at most 2 x capacity floats (and their x)
    chart = build_chart(series, 100, 30)
    assert chart.n_points <= 3 * 2 * 100 + 6  # about two points a column reach plotext


def test_a_stream_curve_keeps_the_extremes_and_the_newest_point() -> None:
    curve = StreamCurve(64)
    ys = np.sin(np.arange(10_000) / 50.0)
    ys[3_333] = 9.0  # a spike
    ys[7_777] = -9.0  # and the best (lowest) epoch
    for i, y in enumerate(ys):
        curve.append(float(i), float(y))
    curve.append(10_000.0, float("nan"))
    xs, kept = curve.arrays()
    assert len(xs) <= 2 * 64 + 1 and np.all(np.diff(xs) > 0)
    assert kept.max() == 9.0 and xs[kept.argmax()] == 3_333
    assert kept.min() == -9.0 and xs[kept.argmin()] == 7_777
    assert xs[-1] == 9_999 and curve.count == 10_000 and curve.skipped == 1
