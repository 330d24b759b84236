"""A sweep's knobs against its objective as plotext text: one knob's scatter, or every varied knob's.

Each completed trial is a point at (the knob's value, the trial's objective); the best trial is
drawn on top in its own colour and marker (◆), which the title names. A log range gets a log x
axis and a choice knob sits at integer positions labelled with its choices. As in
`tui.plotting.chart`, whose tick and figure helpers this reuses, a log axis is log10 of the
values on a linear axis labelled with the values themselves: plotext's own log scale fails on a
single point and mislays the ticks we set.

Cost: plotext spends 20 to 40 microseconds per point, so points that would land on a pixel
already taken are dropped before plotext sees them: a plot costs what its pixels cost, whether
the sweep has ten trials or ten thousand. No Textual here: `tui.widgets.param_scatter` shows
these plots, a benchmark can call the same functions.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.sweeps.results import SweepResults
from engine.sweeps.spec import Choice, Range, label
from tui.plotting.chart import MIN_HEIGHT, MIN_WIDTH, Chart, new_figure, padded, plot_color, truncate, x_ticks, y_ticks

POINT_COLOR = "33"
BEST_COLOR = "208"
BEST_MARKER = "◆"
GRID_MIN_WIDTH = 24
GRID_MIN_HEIGHT = 9
NO_TRIALS = "no completed trial with an objective yet"


@dataclass(frozen=True)
class KnobPoints:
    """One knob's scatter in plot coordinates.

    `xs` are log10 of the values on a log axis and the choice's index for a choice knob; `ys`
    are the objective (log10 of it with a log y axis). `best` is where the best trial sits, if
    it is among the points; `dropped` counts points a log axis could not place.
    """

    key: str
    xs: np.ndarray
    ys: np.ndarray
    labels: tuple[str, ...] | None
    log_x: bool
    integer: bool
    best: tuple[float, float] | None
    best_trial: int | None
    dropped: int


def knob_points(results: SweepResults, key: str, *, log_y: bool = False) -> KnobPoints:
    """The scored trials of `results` as points of `key` against the objective."""
    raw_x, raw_y, labels, log_x = results.axis(key)
    param = results.spec.param(key)
    x = np.asarray(raw_x, dtype=np.float64)
    y = np.asarray(raw_y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if log_x:
        keep &= x > 0
    if log_y:
        keep &= y > 0
    dropped = int(len(x) - np.count_nonzero(keep))
    x, y = x[keep], y[keep]
    best = results.best
    best_at = None
    if best is not None and best.objective is not None:
        bx = _position(param, best.values.get(key))
        by = float(best.objective)
        if bx is not None and (not log_x or bx > 0) and (not log_y or by > 0) and math.isfinite(by):
            best_at = (math.log10(bx) if log_x else bx, math.log10(by) if log_y else by)
    if log_x:
        x = np.log10(x)
    if log_y:
        y = np.log10(y)
    return KnobPoints(key, x, y, tuple(labels) if labels is not None else None, log_x,
                      isinstance(param, Range) and param.integer, best_at,
                      best.trial_id if best_at is not None and best is not None else None, dropped)


def _position(param: Choice | Range, value: object) -> float | None:
    if isinstance(param, Choice):
        labels = param.labels
        return float(labels.index(label(value))) if label(value) in labels else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


PointsCache = dict[tuple[str, bool], KnobPoints]


def cached_points(results: SweepResults, key: str, log_y: bool, cache: PointsCache | None) -> KnobPoints:
    """`knob_points`, remembered in `cache` (which must belong to this `results`) when given.

    Reading a knob's axis walks every trial (about 10 ms per thousand for a choice knob), and a
    resize or a toggle redraws the same results: with a cache only plotext's part is paid again.
    """
    if cache is None:
        return knob_points(results, key, log_y=log_y)
    if (key, log_y) not in cache:
        cache[(key, log_y)] = knob_points(results, key, log_y=log_y)
    return cache[(key, log_y)]


def points_cache(results: SweepResults) -> PointsCache:
    """Every knob's points on a linear y axis, ready for `show(..., cache=)`; safe in a worker thread."""
    return {(key, False): knob_points(results, key) for key in results.spec.keys()}


def scatter_title(results: SweepResults, key: str) -> str:
    """What one knob's plot shows, e.g. "val_loss (minimize) vs optim.lr"."""
    return f"{results.spec.metric} ({results.spec.direction}) vs {key}"


def grid_title(results: SweepResults, shown: int, total: int) -> str:
    more = f" ({shown} of {total} shown: enlarge to see all)" if shown < total else ""
    return f"{results.spec.metric} ({results.spec.direction}) vs each knob{more}"


def thin(xs: np.ndarray, ys: np.ndarray, limits: tuple[float, float, float, float],
         columns: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The points with at most one per cell of a columns x rows raster over `limits`."""
    if len(xs) <= 1 or columns < 1 or rows < 1:
        return xs, ys
    xlo, xhi, ylo, yhi = limits
    cx = np.clip(np.floor((xs - xlo) / (xhi - xlo) * columns), 0, columns - 1)
    cy = np.clip(np.floor((ys - ylo) / (yhi - ylo) * rows), 0, rows - 1)
    _, first = np.unique(cx * rows + cy, return_index=True)
    first.sort()
    return xs[first], ys[first]


def _y_axis(ys: np.ndarray, best: tuple[float, float] | None, canvas_h: int,
            log_y: bool) -> tuple[float, float, list[float], list[str]]:
    values = list(ys) + ([best[1]] if best else [])
    lo, hi = padded(min(values), max(values), log=log_y)
    positions, labels = y_ticks(lo, hi, canvas_h, log=log_y)
    return lo, hi, positions, labels


def _x_axis(points: KnobPoints, canvas_w: int) -> tuple[float, float, list[float], list[str]]:
    if points.labels is not None:
        return _choice_axis(points.labels, canvas_w)
    values = list(points.xs) + ([points.best[0]] if points.best else [])
    lo, hi = padded(min(values), max(values), log=points.log_x)
    positions, labels = x_ticks(lo, hi, canvas_w, log=points.log_x, integer=points.integer)
    return lo, hi, positions, labels


def _choice_axis(choices: Sequence[str], canvas_w: int) -> tuple[float, float, list[float], list[str]]:
    """Every choice at its index, labelled; every k-th when they do not fit, labels cut to fit."""
    n = max(1, len(choices))
    every = 1
    while every < n and (n // every) * 4 > canvas_w:
        every += 1
    room = max(2, canvas_w * every // n - 1)
    positions = [float(i) for i in range(0, len(choices), every)]
    labels = [truncate(choices[i], room) for i in range(0, len(choices), every)]
    return -0.5, n - 0.5, positions, labels


def _marker(symbol: str, color: str) -> Any:
    import plotext  # loaded with the first chart (tui/plotting/chart.py says why)

    return plotext.marker(symbol, pixel=plotext.pixel(foreground=plot_color(color, 0)))


def _draw_knob(plot: Any, points: KnobPoints, width: int, height: int, *, small: bool, log_y: bool) -> int:
    """Set one (sub)plot's axes and draw its points; returns how many points plotext was given.

    A `small` plot (one of a grid) has no axis labels and keeps one point per cell rather than
    one per pixel: its points are there to show a trend, not each trial.
    """
    title_rows, label_rows, per_cell = (1, 0, 1) if small else (1, 1, 2)
    canvas_h = max(1, height - 3 - title_rows - label_rows)
    ylo, yhi, y_positions, y_labels = _y_axis(points.ys, points.best, canvas_h, log_y)
    canvas_w = max(1, width - 2 - max(1, max(len(text) for text in y_labels)))
    xlo, xhi, x_positions, x_labels = _x_axis(points, canvas_w)
    plot.ruler("x").lim(xlo, xhi)
    plot.ruler("x").ticks(x_positions, x_labels)
    plot.ruler("y").lim(ylo, yhi)
    plot.ruler("y").ticks(y_positions, y_labels)
    limits = (xlo, xhi, ylo, yhi)
    x, y = thin(points.xs, points.ys, limits, per_cell * canvas_w, per_cell * canvas_h)
    plot.draw(plot.signal(x.tolist(), y.tolist(), marker=_marker("hd", POINT_COLOR)))
    if points.best is not None:
        plot.draw(plot.signal([points.best[0]], [points.best[1]], marker=_marker(BEST_MARKER, BEST_COLOR)))
    return len(x) + (points.best is not None)


def _hint_for(results: SweepResults, points: KnobPoints) -> str:
    if not results.scored:
        return NO_TRIALS
    if points.dropped:
        return f"no value of {points.key} and {results.spec.metric} to place (a log axis drops values <= 0)"
    return f"no completed trial has a value for {points.key}"


def build_scatter(results: SweepResults, key: str, width: int, height: int, *, log_y: bool = False,
                  cache: PointsCache | None = None) -> Chart:
    """One knob against the objective in `width` x `height` cells.

    The title says which marker is the best trial, rather than a legend box: on a short plot a
    box would cover the very corner where the good trials sit.
    """
    title = scatter_title(results, key) + (" (log y)" if log_y else "")
    points = cached_points(results, key, log_y, cache)
    if not len(points.xs):
        return Chart(None, title, 0, hint=_hint_for(results, points))
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return Chart(None, title, 0, hint="enlarge to see the plot")
    figure = new_figure(width, height)
    best = f"; {BEST_MARKER} best #{points.best_trial}" if points.best is not None else ""
    figure.title(truncate(title + best, width - 2))
    figure.label(key, axis="x")
    figure.label(results.spec.metric, axis="y")
    n_points = _draw_knob(figure, points, width, height, small=False, log_y=log_y)
    return Chart(figure.build().string(), title, n_points)


def grid_layout(n: int, width: int, height: int) -> tuple[int, int, int]:
    """(rows, columns, plots shown) for n small plots: every plot at least 24 x 9 cells, as
    close to a 3:1 cell aspect (a square on screen) as the count allows."""
    best: tuple[float, int, int, int] | None = None
    for shown in range(n, 0, -1):
        for cols in range(1, shown + 1):
            rows = -(-shown // cols)
            w, h = width // cols, height // rows
            if w < GRID_MIN_WIDTH or h < GRID_MIN_HEIGHT:
                continue
            score = min(w / 3.0, float(h)) - 0.01 * (rows * cols - shown)
            if best is None or score > best[0]:
                best = (score, rows, cols, shown)
        if best is not None:
            return best[1], best[2], best[3]
    return 0, 0, 0


def build_grid(results: SweepResults, keys: Sequence[str], width: int, height: int, *,
               log_y: bool = False, cache: PointsCache | None = None) -> Chart:
    """Every knob in `keys` against the objective, as small plots in one `width` x `height` block.

    The first line is the overall title; keys that do not fit are left out, the title says so.
    """
    if not results.scored:
        return Chart(None, grid_title(results, len(keys), len(keys)), 0, hint=NO_TRIALS)
    rows, cols, shown = grid_layout(len(keys), width, height - 1)
    title = grid_title(results, shown, len(keys)) + (" (log y)" if log_y else "")
    if not keys:
        return Chart(None, title, 0, hint="the sweep varies no knob")
    if not shown:
        return Chart(None, title, 0, hint="enlarge to see the plots")
    figure = new_figure(width, height - 1)
    figure.subplots(rows, cols)
    figure.theme("simple")
    figure.plot_size(width, height - 1)  # hands each subplot its share of the size
    n_points = 0
    for index in range(rows * cols):
        plot = figure.subplot(index // cols + 1, index % cols + 1)
        if index >= shown:
            plot.axes(False)
            continue
        key = keys[index]
        w, h = plot.size()
        points = cached_points(results, key, log_y, cache)
        if not len(points.xs):
            plot.title(truncate(f"{key}: no values", max(1, w - 2)))
            plot.axes(False)
            continue
        plot.title(truncate(key, max(1, w - 2)))
        n_points += _draw_knob(plot, points, w, h, small=True, log_y=log_y)
    header = truncate(title, width).center(width)
    return Chart(header + "\n" + figure.build().string(), title, n_points)
