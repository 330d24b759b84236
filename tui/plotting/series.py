"""What a plot is given: labelled curves, a colour palette, smoothing and the cleaning rules.

The plot widget shows exactly the series it gets; choosing which trials and metrics to show is
the app's job, and these helpers keep that job short.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tui.plotting.downsample import as_float_array

SeriesKind = Literal["line", "scatter"]
SERIES_KINDS: tuple[str, ...] = ("line", "scatter")

# 256-colour indices that stay apart from each other on dark and light backgrounds alike:
# blue, orange, green, orchid, gold, turquoise, salmon, purple.
PALETTE: tuple[str, ...] = ("33", "208", "40", "170", "220", "44", "203", "141")

PLOTTABLE_MAX = 1e300

# Which stored metrics make up each plot a person can ask for.
METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "loss": ("train_loss", "val_loss"),
    "accuracy": ("val_acc",),
    "lr": ("lr",),
}


@dataclass(frozen=True, eq=False)
class Series:
    """One curve. `xs` and `ys` may be lists, array('d'), numpy arrays or polars Series.

    eq=False because comparing numpy arrays field by field raises; a series is compared by
    identity, which is all the widget needs.
    """

    label: str
    xs: Sequence[float] | Any
    ys: Sequence[float] | Any
    color: str | None = None
    kind: SeriesKind = "line"
    skipped: int = 0  # non-finite values left out before the series was made (a StreamCurve's)

    def __post_init__(self) -> None:
        if self.kind not in SERIES_KINDS:
            raise ValueError(f"`kind` must be one of {', '.join(SERIES_KINDS)}, got kind={self.kind!r}")


def palette_color(index: int) -> str:
    """The colour of the index-th overlaid trial, cycling so that any number of trials gets one."""
    return PALETTE[index % len(PALETTE)]


def finite_points(xs: Any, ys: Any, *, positive: bool = False) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The plottable points of a curve, and how many were dropped for being non-finite or <= 0.

    A diverged trial logs NaN or inf; a log axis cannot place zero or a negative value. Both are
    dropped rather than clamped so that the plot never shows a value that was not measured.
    Beyond +-1e300 counts as non-finite too (only a diverged run gets there, and the axis
    arithmetic would overflow). Unequal lengths are cut to the shorter one.
    """
    x = as_float_array(xs)
    y = as_float_array(ys)
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    finite = (np.abs(x) <= PLOTTABLE_MAX) & (np.abs(y) <= PLOTTABLE_MAX)
    n_nonfinite = int(n - np.count_nonzero(finite))
    n_nonpositive = 0
    if positive:
        keep = finite & (y > 0)
        n_nonpositive = int(np.count_nonzero(finite) - np.count_nonzero(keep))
    else:
        keep = finite
    if n_nonfinite or n_nonpositive:
        x, y = x[keep], y[keep]
    return x, y, n_nonfinite, n_nonpositive


def smooth_ema(ys: Any, alpha: float) -> np.ndarray:
    """Exponential moving average of a noisy per-step loss: s = alpha * y + (1 - alpha) * s_prev.

    Smaller alpha is smoother. Non-finite inputs are skipped (the average carries over them) and
    come out as NaN, so the plot drops them as it drops any NaN. Runs in polars, about 20 ms for a
    million steps, where a Python loop takes half a second.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"`0 < alpha <= 1` must hold, got alpha={alpha!r}")
    y = as_float_array(ys)
    if len(y) == 0:
        return y.copy()
    import polars as pl

    clean = np.where(np.isfinite(y), y, np.nan)
    smoothed = pl.Series(clean, nan_to_null=True).ewm_mean(alpha=alpha, adjust=False, ignore_nulls=True)
    return np.where(np.isfinite(y), smoothed.to_numpy(), np.nan)


def history_series(
    history: Any,
    trial_id: int,
    metric: str,
    *,
    label: str | None = None,
    color: str | None = None,
    kind: SeriesKind = "line",
    x: Literal["epoch", "step"] = "epoch",
) -> Series:
    """One trial's metric from `engine.tables.frames.history_frame` columns (trial_id, epoch, step, metric, value)."""
    import polars as pl

    rows = history.filter((pl.col("trial_id") == trial_id) & (pl.col("metric") == metric)).sort(x)
    return Series(label=label or f"#{trial_id} {metric}", xs=rows[x].cast(pl.Float64).to_numpy(),
                  ys=rows["value"].to_numpy(), color=color, kind=kind)
