"""Turn series into an ANSI plot of an exact size with plotext, cleaning and downsampling first.

No Textual here: the widget asks for a size and gets text, and a benchmark can call the same
function. We compute the axis limits and ticks ourselves: plotext 6's own tick labels change
width with the data (so the canvas width would be unknown when placing the legend), its log
scale fails on a single point and mislays user ticks, and its epoch ticks read "9.2". A log axis
is drawn as log10 of the values on a linear axis, labelled with the values themselves.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tui.plotting.downsample import downsample
from tui.plotting.series import Series, finite_points, palette_color

_PLOTEXT_NAMES = frozenset({
    "black", "white", "gray", "gray+", "red", "red+", "green", "green+",
    "orange", "orange+", "blue", "blue+", "magenta", "magenta+", "cyan", "cyan+"})
_MAX_LABEL = 24
MIN_WIDTH = 16
MIN_HEIGHT = 6


@dataclass(frozen=True)
class Chart:
    """A built plot: `text` holds ANSI lines of exactly the asked size, or None with a `hint`."""

    text: str | None
    title: str
    n_points: int
    hint: str = ""


def plot_color(color: str | None, index: int) -> int | str | tuple[int, int, int]:
    """A series colour for plotext: a 256-colour index ("208"), "#rrggbb" or a plotext name.

    Anything else falls back to the palette, so a typo costs a colour, not the plot.
    """
    for candidate in (color, palette_color(index)):
        if candidate is None:
            continue
        text = candidate.strip().lower()
        if text.isdigit() and int(text) < 256:
            return int(text)
        if len(text) == 7 and text.startswith("#"):
            try:
                return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))
            except ValueError:
                continue
        if text in _PLOTEXT_NAMES:
            return text
    return int(palette_color(index))


def _step_decimals(step: float) -> int:
    for decimals in range(12):
        scaled = step * 10**decimals
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, abs(scaled)):
            return decimals
    return 12


def _short_exp(text: str) -> str:
    return text.replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def format_ticks(values: Sequence[float], step: float | None = None) -> list[str]:
    """Labels short enough for a tick, all with the decimals that tell neighbours apart."""
    if not values:
        return []
    if step is None or step <= 0:
        return [_short_exp(f"{v:.3g}") for v in values]
    decimals = _step_decimals(step)
    largest = max(abs(v) for v in values)
    if largest >= 1e5 or decimals > 5:
        digits = max(0, int(math.floor(math.log10(largest))) - int(math.floor(math.log10(step)))) if largest else 0
        labels = [_short_exp(f"{v:.{min(digits, 6)}e}") for v in values]
    else:
        labels = [f"{v:.{decimals}f}" for v in values]
    return ["0" if float(label) == 0 else label for label in labels]


def nice_ticks(lo: float, hi: float, max_count: int, *, integer: bool = False) -> tuple[list[float], float]:
    """Round tick positions (steps of 1, 2, 2.5 or 5 times a power of ten) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo], 0.0
    raw = (hi - lo) / max(1, max_count - 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    multiples = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in multiples if m * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = [k * step for k in range(first, last + 1)]
    return (ticks or [lo]), step


def log_ticks(lo: float, hi: float, max_count: int) -> tuple[list[float], list[str]]:
    """Tick positions (log10 of the values) and value labels for a log axis from 10**lo to 10**hi.

    Decades when two or more fit, else 1-2-5 steps, else round linear steps; positions stay in
    log space so that 1e-320 or 1e300 never under- or overflows.
    """
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 2:
        chosen = decades[:: -(-len(decades) // max(2, max_count))]
        labels = [format_ticks([10.0**k])[0] if -4 <= k <= 4 else f"1e{k}" for k in chosen]
        return [float(k) for k in chosen], labels
    vlo, vhi = 10.0**lo, 10.0**hi
    values = sorted(m * 10.0**k for k in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 2, 5)
                    if vlo * (1 - 1e-9) <= m * 10.0**k <= vhi * (1 + 1e-9))
    if 2 <= len(values) <= max_count:
        return [math.log10(v) for v in values], format_ticks(values)
    linear, step = nice_ticks(vlo, vhi, max_count)
    values = [v for v in linear if v > 0] or [vlo]
    return [math.log10(v) for v in values], format_ticks(values, step)


def axis_ticks(lo: float, hi: float, max_count: int, *, log: bool = False,
               integer: bool = False) -> tuple[list[float], list[str]]:
    """Tick positions and labels from lo to hi: `log_ticks` on a (log10) log axis, else `nice_ticks`."""
    if log:
        return log_ticks(lo, hi, max_count)
    positions, step = nice_ticks(lo, hi, max_count, integer=integer)
    return positions, format_ticks(positions, step)


def y_ticks(lo: float, hi: float, canvas_h: int, *, log: bool = False) -> tuple[list[float], list[str]]:
    """A y axis's ticks on a canvas `canvas_h` rows high: about one every other row, 2 to 8."""
    return axis_ticks(lo, hi, max(2, min(8, canvas_h // 2)), log=log)


def x_ticks(lo: float, hi: float, canvas_w: int, *, log: bool = False,
            integer: bool = False) -> tuple[list[float], list[str]]:
    """An x axis's ticks: the most (8 to 3) whose labels fit across `canvas_w` columns, else 2."""
    for count in range(8, 2, -1):
        positions, labels = axis_ticks(lo, hi, count, log=log, integer=integer)
        if sum(len(text) + 2 for text in labels) <= canvas_w:
            return positions, labels
    return axis_ticks(lo, hi, 2, log=log, integer=integer)


def padded(lo: float, hi: float, *, log: bool) -> tuple[float, float]:
    """Axis limits around [lo, hi] with 5% to spare each side; a single value gets a tenth of a
    decade each side on a (log10) log axis, else a tenth of its size (1 for zero)."""
    if hi <= lo:
        half = 0.1 if log else (abs(lo) * 0.1 or 1.0)
        return lo - half, hi + half
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def truncate(text: str, width: int) -> str:
    """`text` cut to `width` characters, ending in "…" where it was cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _title_with_notes(title: str, log_y: bool, nonfinite: int, nonpositive: int) -> str:
    notes = []
    if log_y:
        notes.append("log y")
    if nonpositive:
        notes.append(f"{nonpositive} value{'s' if nonpositive != 1 else ''} <= 0 dropped")
    if nonfinite:
        notes.append(f"{nonfinite} NaN/inf skipped")
    return f"{title} ({'; '.join(notes)})" if notes else title


def _legend_corner(curves: list[tuple[np.ndarray, np.ndarray]], limits: tuple[float, float, float, float],
                   canvas: tuple[int, int], box: tuple[int, int]) -> tuple[int, int, str, str]:
    """Where the legend hides the fewest points: top right first, as loss curves end low."""
    xlo, xhi, ylo, yhi = limits
    cw, ch = canvas
    bw, bh = box
    cols = np.concatenate([(x - xlo) / (xhi - xlo) * (cw - 1) for x, _ in curves])
    rows = np.concatenate([(yhi - y) / (yhi - ylo) * (ch - 1) for _, y in curves])
    right, left = (cw - 2 - bw, cw - 2), (1, 1 + bw)
    top, bottom = (0, bh), (ch - bh, ch)
    corners = [(right, top, "right", "top"), (left, top, "left", "top"),
               (right, bottom, "right", "bottom"), (left, bottom, "left", "bottom")]
    best, best_count = corners[0], None
    for corner in corners:
        (c0, c1), (r0, r1), _, _ = corner
        count = int(np.count_nonzero((cols >= c0 - 0.5) & (cols < c1 + 0.5) & (rows >= r0 - 0.5) & (rows < r1 + 0.5)))
        if best_count is None or count < best_count:
            best, best_count = corner, count
    (c0, c1), (r0, r1), ha, va = best
    return (c1 if ha == "right" else c0), (r0 if va == "top" else r1 - 1), ha, va


def new_figure(width: int, height: int) -> object:
    """A plotext figure of `width` x `height` cells with the "simple" theme, ours alone.

    A figure of our own per build: plotext's module-level one is shared, and capped at the
    terminal's size unless its terminal's limit is lifted.
    """
    import plotext  # here, not at import: 0.1 s off the cockpit's first frame (its docs module alone 0.05 s)

    terminal = type(plotext.terminal)()
    terminal.limit(False, False)
    figure = terminal._master
    figure.plot_size(width, height)
    figure.theme("simple")
    return figure


def build_chart(
    series: Sequence[Series],
    width: int,
    height: int,
    *,
    title: str = "",
    x_label: str = "epoch",
    y_label: str = "",
    log_y: bool = False,
) -> Chart:
    """The plot of `series` in `width` x `height` cells; costs the same for 100 or 10**6 points.

    Non-finite points are skipped and, with `log_y`, values <= 0 dropped; the title says how
    many. Every series is cut to about two points per column before plotext sees it.
    """
    curves: list[tuple[np.ndarray, np.ndarray, Series, int]] = []
    nonfinite = nonpositive = 0
    for index, item in enumerate(series):
        x, y, bad, nonpos = finite_points(item.xs, item.ys, positive=log_y)
        nonfinite += bad + item.skipped
        nonpositive += nonpos
        if len(x):
            curves.append((x, y, item, index))
    full_title = _title_with_notes(title, log_y, nonfinite, nonpositive)
    if not curves:
        return Chart(None, full_title, 0, hint="no values to plot yet")
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return Chart(None, full_title, 0, hint="enlarge to see the plot")

    shown_title = truncate(full_title, width - 2)
    canvas_h = height - 3 - (1 if shown_title else 0) - (1 if (x_label or y_label) else 0)
    sampled = []
    for x, y, item, index in curves:
        x, y = downsample(x, y, max(8, width))
        sampled.append((x, np.log10(y) if log_y else y, item, index))

    xlo = min(float(x.min()) for x, *_ in sampled)
    xhi = max(float(x.max()) for x, *_ in sampled)
    ylo = min(float(y.min()) for _, y, *_ in sampled)
    yhi = max(float(y.max()) for _, y, *_ in sampled)
    if xhi <= xlo:
        xlo, xhi = xlo - 1.0, xhi + 1.0
    ylo, yhi = padded(ylo, yhi, log=log_y)

    y_positions, y_labels = y_ticks(ylo, yhi, canvas_h, log=log_y)
    canvas_w = width - 2 - max(1, max(len(label) for label in y_labels))
    integral = all(bool(np.all(x == np.round(x))) for x, *_ in sampled)
    x_positions, x_labels = x_ticks(xlo, xhi, canvas_w, integer=integral)

    figure = new_figure(width, height)
    if shown_title:
        figure.title(shown_title)
    if x_label:
        figure.label(x_label, axis="x")
    if y_label:
        figure.label(y_label, axis="y")
    figure.ruler("x").lim(xlo, xhi)
    figure.ruler("x").ticks(x_positions, x_labels)
    figure.ruler("y").lim(ylo, yhi)
    figure.ruler("y").ticks(y_positions, y_labels)

    labels = [truncate(item.label, _MAX_LABEL) for *_, item, _ in sampled]
    capacity = max(0, (canvas_h - 3) // 2)
    shown = [label for label in labels[:capacity] if label]
    box = (max((len(label) for label in shown), default=0) + 6, 2 * len(shown) + 3)
    with_legend = bool(shown) and box[0] <= canvas_w - 3
    n_points = 0
    import plotext

    for position, (x, y, item, index) in enumerate(sampled):
        color = plot_color(item.color, index)
        symbol = "dot" if item.kind == "scatter" else "hd"
        signal = figure.signal(x.tolist(), y.tolist(), marker=plotext.marker(symbol, pixel=plotext.pixel(foreground=color)))
        if item.kind == "line":
            signal.lines(True)
        if with_legend and position < capacity and labels[position]:
            signal.label(labels[position])
        figure.draw(signal)
        n_points += len(x)
    if with_legend:
        col, row, ha, va = _legend_corner([(x, y) for x, y, *_ in sampled], (xlo, xhi, ylo, yhi),
                                          (canvas_w, canvas_h), box)
        figure.legend(x=col, y=row, ha=ha, va=va)
    return Chart(figure.build().string(), full_title, n_points)
