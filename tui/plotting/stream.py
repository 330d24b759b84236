"""A curve that grows point by point in constant memory and plots at constant cost, whatever its length.

A running trial adds a few points per epoch for as long as it trains (10^2 .. 10^6 epochs or
steps). Keeping every point and downsampling all of them on each redraw made the cockpit's cost
grow with the history (the issue measured 62-93 % of a core and growing memory after ~68,000
epochs). A `StreamCurve` keeps instead at most `capacity` buckets of consecutive points, each with
its minimum and maximum (where they are, in x), so the spikes and the best epoch a person looks
for survive; when the buckets are full, neighbours merge pairwise and each bucket then covers twice
as many points. An append is O(1) (amortised: a merge halves the buckets), `arrays()` hands the plot
at most 2 * capacity + 1 points, and the memory is a fixed few lists of `capacity` floats.

A terminal plot is at most a few hundred columns wide and draws about two points per column, so
1024 buckets lose nothing visible. Non-finite values are counted (`skipped`), not kept.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

DEFAULT_CAPACITY = 1024


class StreamCurve:
    __slots__ = ("capacity", "count", "skipped", "width", "_fill", "_lo_x", "_lo_y", "_hi_x", "_hi_y",
                 "_last")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError(f"`capacity` must be an even number >= 2, got capacity={capacity!r}")
        self.capacity = capacity
        self.count = 0  # finite points appended
        self.skipped = 0  # non-finite values seen (not kept)
        self.width = 1  # points per bucket
        self._fill = 0  # points in the newest bucket
        self._lo_x: list[float] = []
        self._lo_y: list[float] = []
        self._hi_x: list[float] = []
        self._hi_y: list[float] = []
        self._last: tuple[float, float] | None = None

    def __len__(self) -> int:
        return self.count

    def append(self, x: float, y: float) -> None:
        if not math.isfinite(y) or not math.isfinite(x):
            self.skipped += 1
            return
        self.count += 1
        self._last = (x, y)
        if self._fill and self._fill < self.width:
            self._fill += 1
            if y < self._lo_y[-1]:
                self._lo_x[-1], self._lo_y[-1] = x, y
            if y > self._hi_y[-1]:
                self._hi_x[-1], self._hi_y[-1] = x, y
            return
        if len(self._lo_y) == self.capacity:
            self._merge()
        self._lo_x.append(x)
        self._lo_y.append(y)
        self._hi_x.append(x)
        self._hi_y.append(y)
        self._fill = 1

    def extend(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        for x, y in zip(xs, ys):
            self.append(float(x), float(y))

    def _merge(self) -> None:
        """Pairs of buckets become one: half the buckets, each twice as wide; the newest is then full."""
        lo_x, lo_y, hi_x, hi_y = self._lo_x, self._lo_y, self._hi_x, self._hi_y
        for i in range(0, len(lo_y), 2):
            j = i // 2
            a, b = i, i + 1
            k = a if lo_y[a] <= lo_y[b] else b
            lo_x[j], lo_y[j] = lo_x[k], lo_y[k]
            k = a if hi_y[a] >= hi_y[b] else b
            hi_x[j], hi_y[j] = hi_x[k], hi_y[k]
        half = len(lo_y) // 2
        del lo_x[half:], lo_y[half:], hi_x[half:], hi_y[half:]
        self.width *= 2
        self._fill = self.width

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The points to plot, in x order: each bucket's min and max where they lie, and the newest point."""
        n = len(self._lo_y)
        if not n:
            return np.empty(0), np.empty(0)
        lo_x, lo_y = np.asarray(self._lo_x), np.asarray(self._lo_y)
        hi_x, hi_y = np.asarray(self._hi_x), np.asarray(self._hi_y)
        first = lo_x <= hi_x
        xs = np.empty(2 * n + 1)
        ys = np.empty(2 * n + 1)
        xs[0:-1:2] = np.where(first, lo_x, hi_x)
        ys[0:-1:2] = np.where(first, lo_y, hi_y)
        xs[1:-1:2] = np.where(first, hi_x, lo_x)
        ys[1:-1:2] = np.where(first, hi_y, lo_y)
        assert self._last is not None
        xs[-1], ys[-1] = self._last
        keep = np.ones(len(xs), dtype=bool)
        keep[1:] = xs[1:] != xs[:-1]  # a bucket of one point (or whose min is its max) gives it once
        return xs[keep], ys[keep]

    def last(self) -> tuple[float, float] | None:
        """The newest point appended."""
        return self._last
