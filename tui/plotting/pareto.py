"""A multi-objective sweep's first two objectives against each other, its Pareto front joined and highlighted.

Every completed trial is a point at (first objective, second objective); the trials of the front
(engine.sweeps.results.SweepResults.front: no other trial is as good in both and better in one) are
joined in the order of the first objective by a line in the front's colour and drawn on top with
their own marker (◆), which the title names. No Textual here: `tui.widgets.param_scatter` shows it.
"""
from __future__ import annotations

from typing import Any

from engine.sweeps.results import SweepResults
from tui.plotting.chart import MIN_HEIGHT, MIN_WIDTH, Chart, new_figure, padded, plot_color, truncate, x_ticks, y_ticks
from tui.plotting.scatter import BEST_COLOR, BEST_MARKER, NO_TRIALS, POINT_COLOR, thin

FRONT_COLOR = BEST_COLOR
FRONT_MARKER = BEST_MARKER


def front_title(results: SweepResults) -> str:
    """e.g. "Pareto front: val_loss (minimize) vs params (minimize)"."""
    (m1, d1), (m2, d2) = results.spec.goals[:2]
    return f"Pareto front: {m2} ({d2}) vs {m1} ({d1})"


def front_points(results: SweepResults) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(every completed trial, the front's trials in the order of the first objective) as (x, y) pairs:
    x the first objective, y the second."""
    every = [(p.objectives[0], p.objectives[1]) for p in results.scored if p.objectives and len(p.objectives) > 1]
    front = [(p.objectives[0], p.objectives[1]) for p in results.front if p.objectives and len(p.objectives) > 1]
    return every, front


def build_front(results: SweepResults, width: int, height: int) -> Chart:
    """The two objectives' scatter in `width` x `height` cells, the front joined and marked."""
    title = front_title(results)
    every, front = front_points(results)
    if not every:
        return Chart(None, title, 0, hint=NO_TRIALS)
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return Chart(None, title, 0, hint="enlarge to see the plot")
    (m1, _), (m2, _) = results.spec.goals[:2]
    figure: Any = new_figure(width, height)
    more = f" ({len(results.spec.goals) - 2} more objective(s) not drawn)" if len(results.spec.goals) > 2 else ""
    figure.title(truncate(f"{title}; {FRONT_MARKER} front of {len(front)} of {len(every)}{more}", width - 2))
    figure.label(m1, axis="x")
    figure.label(m2, axis="y")
    xs, ys = [x for x, _ in every], [y for _, y in every]
    canvas_h = max(1, height - 5)
    ylo, yhi = padded(min(ys), max(ys), log=False)
    y_positions, y_labels = y_ticks(ylo, yhi, canvas_h)
    canvas_w = max(1, width - 2 - max(1, max(len(text) for text in y_labels)))
    xlo, xhi = padded(min(xs), max(xs), log=False)
    x_positions, x_labels = x_ticks(xlo, xhi, canvas_w)
    figure.ruler("x").lim(xlo, xhi)
    figure.ruler("x").ticks(x_positions, x_labels)
    figure.ruler("y").lim(ylo, yhi)
    figure.ruler("y").ticks(y_positions, y_labels)
    import numpy as np
    import plotext

    px, py = thin(np.asarray(xs), np.asarray(ys), (xlo, xhi, ylo, yhi), 2 * canvas_w, 2 * canvas_h)
    figure.draw(figure.signal(px.tolist(), py.tolist(),
                              marker=plotext.marker("hd", pixel=plotext.pixel(foreground=plot_color(POINT_COLOR, 0)))))
    fx, fy = [x for x, _ in front], [y for _, y in front]
    line = figure.signal(fx, fy, marker=plotext.marker("hd", pixel=plotext.pixel(foreground=plot_color(FRONT_COLOR, 0))))
    line.lines(True)
    figure.draw(line)
    figure.draw(figure.signal(fx, fy, marker=plotext.marker(
        FRONT_MARKER, pixel=plotext.pixel(foreground=plot_color(FRONT_COLOR, 0)))))
    return Chart(figure.build().string(), title, len(px) + len(front))
