"""A learning-rate probe's loss against the rate, as plotext text: the same plot in the CLI and the cockpit.

The rate is on a log axis (log10 of the rates on a linear axis, labelled with the rates, as
`tui.plotting.chart` draws every log axis); each step's loss is a faint dot, the smoothed loss a
line, the suggested rate a vertical line with a ◆ on the smoothed curve, and the step where the
ramp diverged an ✗. The y axis spans the smoothed loss, so a diverging step's raw loss of 1e9
does not flatten the curve; raw losses above it are left out, and the title says so.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.training.lr_probe import LrFinding
from tui.plotting.chart import MIN_HEIGHT, MIN_WIDTH, Chart, new_figure, padded, plot_color, truncate, x_ticks, y_ticks
from tui.plotting.downsample import downsample

RAW_COLOR = "244"
SMOOTH_COLOR = "33"
SUGGESTED_COLOR = "40"
DIVERGED_COLOR = "203"
SUGGESTED_MARKER = "◆"
DIVERGED_MARKER = "✗"


def _marker(symbol: str, color: str) -> Any:
    import plotext  # loaded with the first chart (tui/plotting/chart.py says why)

    return plotext.marker(symbol, pixel=plotext.pixel(foreground=plot_color(color, 0)))


def lr_title(finding: LrFinding, *, running: bool = False) -> str:
    """What the plot marks, e.g. "loss vs learning rate; ◆ suggested 0.0203; ✗ diverged at 4.77"."""
    parts = ["loss vs learning rate"]
    if running:
        return f"{parts[0]}; probing: {len(finding.points)} of {finding.settings.steps} steps"
    if finding.suggested is not None:
        parts.append(f"{SUGGESTED_MARKER} suggested {finding.suggested:.3g}")
    else:
        parts.append("no suggestion")
    if finding.diverged_at is not None:
        parts.append(f"{DIVERGED_MARKER} diverged at {finding.diverged_at:.3g}")
    return "; ".join(parts)


def build_lr_chart(finding: LrFinding, width: int, height: int, *, running: bool = False) -> Chart:
    """The probe's points in `width` x `height` cells; costs the same for 100 or 100,000 steps. While
    `running`, the points so far without the marks (the suggestion is not one yet)."""
    points = finding.finite_points
    title = lr_title(finding, running=running)
    if not points:
        return Chart(None, title, 0, hint="no finite loss to plot: the ramp diverged at its first step")
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return Chart(None, title, 0, hint="enlarge to see the plot")
    x = np.log10(np.array([p.lr for p in points]))
    raw = np.array([p.loss for p in points])
    smooth = np.array([p.smoothed for p in points])
    ylo, yhi = padded(float(min(raw.min(), smooth.min())), float(smooth.max()), log=False)
    inside = raw <= yhi
    dropped = int(len(raw) - np.count_nonzero(inside))
    if dropped:
        title += f" ({dropped} loss{'es' if dropped != 1 else ''} above the plot)"
    canvas_h = height - 5
    y_positions, y_labels = y_ticks(ylo, yhi, canvas_h)
    canvas_w = width - 2 - max(1, max(len(label) for label in y_labels))
    xlo, xhi = padded(float(x.min()), float(x.max()), log=True)
    x_positions, x_labels = x_ticks(xlo, xhi, canvas_w, log=True)

    figure: Any = new_figure(width, height)
    figure.title(truncate(title, width - 2))
    figure.label("learning rate (log)", axis="x")
    figure.label("loss", axis="y")
    figure.ruler("x").lim(xlo, xhi)
    figure.ruler("x").ticks(x_positions, x_labels)
    figure.ruler("y").lim(ylo, yhi)
    figure.ruler("y").ticks(y_positions, y_labels)
    rx, ry = downsample(x[inside], raw[inside], max(8, canvas_w))
    figure.draw(figure.signal(rx.tolist(), ry.tolist(), marker=_marker("dot", RAW_COLOR)))
    sx, sy = downsample(x, smooth, max(8, canvas_w))
    line = figure.signal(sx.tolist(), sy.tolist(), marker=_marker("hd", SMOOTH_COLOR))
    line.lines(True)
    figure.draw(line)
    n_points = len(rx) + len(sx)
    if running:
        return Chart(figure.build().string(), title, n_points)
    if finding.suggested_index is not None:
        at = finding.points[finding.suggested_index]
        sx0 = math.log10(at.lr)
        figure.draw(figure.signal([sx0] * 2, [ylo, yhi], marker=_marker("hd", SUGGESTED_COLOR)).lines(True))
        figure.draw(figure.signal([sx0], [at.smoothed], marker=_marker(SUGGESTED_MARKER, SUGGESTED_COLOR)))
        n_points += 3
    last = finding.points[-1]
    if finding.diverged_at is not None and math.isfinite(last.smoothed) and last.smoothed <= yhi:
        figure.draw(figure.signal([math.log10(last.lr)], [last.smoothed], marker=_marker(DIVERGED_MARKER,
                                                                                         DIVERGED_COLOR)))
        n_points += 1
    return Chart(figure.build().string(), title, n_points)
