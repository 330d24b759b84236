"""A sweep's knobs against its objective: one knob's scatter, or every varied knob's at once, or (a
multi-objective sweep) its first two objectives with the Pareto front joined.

The widget; the plots themselves are built by `tui.plotting.scatter` and `tui.plotting.pareto`, which
say what they show.
"""
from __future__ import annotations

from collections.abc import Sequence

from textual.reactive import reactive
from textual.widgets import Static

from engine.sweeps.results import SweepResults
from tui.plotting.canvas import ChartCanvas, canvas_css
from tui.plotting.chart import Chart
from tui.plotting.pareto import build_front, front_title
from tui.plotting.scatter import PointsCache, build_grid, build_scatter, grid_title, scatter_title

WAITING = "reading the sweep…"


class ParamScatter(ChartCanvas, Static):
    """One knob of a sweep against its objective, or every given knob in a grid of small plots.

    `show(results, key)` draws one knob; `show_grid(results, keys)` draws them all. The plot is
    built when painted, at the widget's size, so a resize redraws it and repeated calls between
    two paints cost nothing. `log_y` puts the objective on a log axis.
    """

    DEFAULT_CSS = canvas_css("ParamScatter")

    log_y: reactive[bool] = reactive(False, repaint=False)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", name=name, id=id, classes=classes)
        self.results: SweepResults | None = None
        self.key: str | None = None
        self.grid_keys: tuple[str, ...] = ()
        self.grid = False
        self.front = False
        self.hint = WAITING
        self._cache: PointsCache = {}

    @property
    def title_text(self) -> str:
        """The title of what is shown (known before the plot is drawn)."""
        if self.results is None:
            return ""
        if self.front:
            return front_title(self.results)
        if self.grid:
            return grid_title(self.results, len(self.grid_keys), len(self.grid_keys))
        return scatter_title(self.results, self.key) if self.key else ""

    def show(self, results: SweepResults | None, key: str | None, *, hint: str = "",
             cache: PointsCache | None = None) -> None:
        """Plot `key` of `results` against the objective; with None for either, `hint` instead.

        `cache` may hold points already computed for these results (`tui.plotting.scatter.points_cache`, in a thread).
        """
        self._take(results, cache)
        self.key, self.grid, self.front, self.hint = key, False, False, hint or WAITING
        self._invalidate()

    def show_front(self, results: SweepResults) -> None:
        """Plot a multi-objective sweep's first two objectives against each other, the front joined."""
        self._take(results, None)
        self.grid, self.front, self.hint = False, True, WAITING
        self._invalidate()

    def show_grid(self, results: SweepResults | None, keys: Sequence[str], *,
                  cache: PointsCache | None = None) -> None:
        """Plot each of `keys` against the objective, in that order, as many as fit."""
        self._take(results, cache)
        self.grid_keys, self.grid, self.front, self.hint = tuple(keys), True, False, WAITING
        self._invalidate()

    def _take(self, results: SweepResults | None, cache: PointsCache | None) -> None:
        if results is not self.results:
            self._cache = {}
        if cache:
            self._cache.update(cache)
        self.results = results

    def watch_log_y(self) -> None:
        self._invalidate()

    def _invalidate(self) -> None:
        self._drawn_size = None
        self.refresh()

    def make_chart(self, width: int, height: int) -> Chart | str:
        if self.results is not None and self.front:
            return build_front(self.results, width, height)
        if self.results is None or (not self.grid and self.key is None):
            return self.hint
        if self.grid:
            return build_grid(self.results, self.grid_keys, width, height, log_y=self.log_y, cache=self._cache)
        return build_scatter(self.results, self.key or "", width, height, log_y=self.log_y, cache=self._cache)
