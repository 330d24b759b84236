"""Downsampling, cleaning, smoothing and tick helpers behind the loss plot: pure functions, no app."""
from __future__ import annotations

import math
from array import array

import numpy as np
import plotext
import polars as pl
import pytest

from tui.plotting.chart import build_chart, format_ticks, log_ticks, nice_ticks, plot_color
from tui.plotting.downsample import downsample
from tui.plotting.series import Series, finite_points, history_series, palette_color, smooth_ema


def _noisy(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=np.float64)
    return x, 1.0 / np.sqrt(x + 1.0) + rng.normal(0.0, 0.05, n)


def test_keeps_first_last_and_global_extremes() -> None:
    x, y = _noisy(100_003)
    y[31_337] = 50.0
    y[77_001] = -50.0
    dx, dy = downsample(x, y, 100)
    assert (dx[0], dy[0]) == (x[0], y[0])
    assert (dx[-1], dy[-1]) == (x[-1], y[-1])
    assert dy.max() == 50.0 and dx[dy.argmax()] == 31_337
    assert dy.min() == -50.0 and dx[dy.argmin()] == 77_001


def test_output_size_is_bounded_for_a_million_points() -> None:
    x, y = _noisy(1_000_000)
    for n_buckets in (1, 7, 80, 160, 999):
        dx, dy = downsample(x, y, n_buckets)
        assert len(dx) == len(dy) <= 2 * n_buckets + 2


def test_each_bucket_keeps_its_own_extremes() -> None:
    x, y = _noisy(10_000, seed=3)
    dx, dy = downsample(x, y, 50)
    kept = set(dx.astype(int).tolist())
    for bucket in np.array_split(np.arange(10_000), 50):
        assert int(bucket[np.argmax(y[bucket])]) in kept
        assert int(bucket[np.argmin(y[bucket])]) in kept


def test_short_series_come_back_unchanged() -> None:
    x, y = _noisy(200)
    dx, dy = downsample(x, y, 100)
    assert np.array_equal(dx, x) and np.array_equal(dy, y)
    ex, ey = downsample([], [], 10)
    assert len(ex) == len(ey) == 0


def test_input_order_is_preserved_even_for_unsorted_x() -> None:
    rng = np.random.default_rng(1)
    x = rng.permutation(50_000).astype(np.float64)
    y = rng.normal(size=50_000)
    dx, _ = downsample(x, y, 64)
    position = {value: i for i, value in enumerate(x.tolist())}
    indices = [position[value] for value in dx.tolist()]
    assert indices == sorted(indices)
    assert len(indices) > 64


@pytest.mark.parametrize("kind", ["list", "array", "numpy", "polars"])
def test_accepts_lists_buffers_numpy_and_polars(kind: str) -> None:
    x, y = _noisy(5_000)
    wrap = {"list": lambda v: v.tolist(), "array": lambda v: array("d", v.tolist()),
            "numpy": lambda v: v, "polars": pl.Series}[kind]
    dx, dy = downsample(wrap(x), wrap(y), 40)
    ref_x, ref_y = downsample(x, y, 40)
    assert np.array_equal(dx, ref_x) and np.array_equal(dy, ref_y)


def test_plot_cost_is_bounded_by_width_not_by_length() -> None:
    width = 120
    counts = []
    for n in (1_000, 1_000_000):
        x, y = _noisy(n)
        chart = build_chart([Series("step_loss", x, y), Series("ema", x, smooth_ema(y, 0.05))],
                            width, 30, x_label="step")
        assert chart.text is not None
        counts.append(chart.n_points)
    assert all(count <= 2 * (2 * width + 2) for count in counts)
    assert counts[1] <= 2 * (2 * width + 2) < 1_000


def test_finite_points_drops_and_counts() -> None:
    x, y, nonfinite, nonpositive = finite_points([1, 2, 3, 4, 5, 6], [1.0, math.nan, math.inf, 0.0, -2.0, 3.0],
                                                 positive=True)
    assert x.tolist() == [1.0, 6.0] and y.tolist() == [1.0, 3.0]
    assert (nonfinite, nonpositive) == (2, 2)
    x, y, nonfinite, nonpositive = finite_points([1, 2, 3], [0.0, None, -1.0])
    assert y.tolist() == [0.0, -1.0] and (nonfinite, nonpositive) == (1, 0)
    x, y, nonfinite, _ = finite_points([1, 2, 3], [1e300, -1e301, 1e308])
    assert y.tolist() == [1e300] and nonfinite == 2
    x, y, _, _ = finite_points([1, 2, 3], [5.0])
    assert x.tolist() == [1.0] and y.tolist() == [5.0]


def test_smooth_ema_matches_the_recurrence_and_skips_nan() -> None:
    ys = [4.0, 2.0, math.nan, 8.0, math.inf, 0.0]
    out = smooth_ema(ys, 0.5)
    assert out[0] == 4.0 and out[1] == 3.0
    assert math.isnan(out[2]) and math.isnan(out[4])
    assert out[3] == pytest.approx(5.5) and out[5] == pytest.approx(2.75)
    assert np.allclose(smooth_ema([3.0] * 100, 0.1), 3.0)
    assert len(smooth_ema([], 0.3)) == 0
    with pytest.raises(ValueError, match="alpha"):
        smooth_ema([1.0], 0.0)


def test_history_series_reads_the_views_frame() -> None:
    frame = pl.DataFrame(
        [(1, 2, 4, "val_loss", 0.5), (1, 1, 2, "val_loss", 0.9), (1, 1, 2, "train_loss", 0.8), (2, 1, 2, "val_loss", 0.1)],
        schema={"trial_id": pl.Int64, "epoch": pl.Int64, "step": pl.Int64, "metric": pl.Utf8, "value": pl.Float64},
        orient="row")
    s = history_series(frame, 1, "val_loss", color=palette_color(1))
    assert s.label == "#1 val_loss" and list(s.xs) == [1.0, 2.0] and list(s.ys) == [0.9, 0.5]
    assert s.color == palette_color(1) != palette_color(0)
    assert list(history_series(frame, 1, "val_loss", x="step").xs) == [2.0, 4.0]


def test_ticks_are_round_distinct_and_integer_for_epochs() -> None:
    ticks, step = nice_ticks(0.12312, 0.12348, 5)
    labels = format_ticks(ticks, step)
    assert len(set(labels)) == len(labels) >= 2
    ticks, step = nice_ticks(1, 7, 8, integer=True)
    assert format_ticks(ticks, step) == ["1", "2", "3", "4", "5", "6", "7"]
    positions, labels = log_ticks(-3.2, 0.4, 6)
    assert positions == [-3.0, -2.0, -1.0, 0.0] and labels == ["0.001", "0.01", "0.1", "1"]
    positions, labels = log_ticks(math.log10(0.3), math.log10(0.9), 5)
    assert all(math.log10(0.3) <= p <= math.log10(0.9) for p in positions) and len(positions) >= 2
    assert labels == [format_ticks([10**p])[0] for p in positions]
    positions, labels = log_ticks(-330.0, 330.0, 5)
    assert len(positions) <= 5 and labels[0] == "1e-330"


def test_colors_parse_and_fall_back_to_the_palette() -> None:
    assert plot_color("208", 0) == 208
    assert plot_color("#ff8000", 0) == (255, 128, 0)
    assert plot_color("orange", 0) == "orange"
    assert plot_color("no-such-colour", 2) == int(palette_color(2))
    assert plot_color(None, 9) == int(palette_color(1))
    assert len({palette_color(i) for i in range(8)}) == 8
    plotext.pixel(foreground=plot_color(None, 0))


def test_series_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        Series("x", [1], [1], kind="bars")  # type: ignore[arg-type]
