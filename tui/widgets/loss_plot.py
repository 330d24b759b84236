"""The live training plot: loss, accuracy or learning rate of the running and the selected trials.

Redraws are paced by a timer rather than by data: events can arrive thousands of times a second,
and every plot rebuild holds the GIL that a Python-bound training thread needs (two redraws a
second cost nothing measurable, ten cost a third of a core). `set_series` only marks the plot
dirty; at most `max_fps` times a second a timer rebuilds it, and a resize rebuilds it at once so
the plot always fits its box.
"""
from __future__ import annotations

from collections.abc import Iterable

from textual.reactive import reactive
from textual.widget import Widget

from tui.plotting.canvas import ChartCanvas, canvas_css
from tui.plotting.chart import Chart, build_chart
from tui.plotting.series import Series

METRIC_TITLES: dict[str, str] = {"loss": "loss", "accuracy": "accuracy", "lr": "learning rate"}
EMPTY_HINT = "no trial yet: press ctrl+r to train"


class LossPlot(ChartCanvas, Widget):
    """A plotext chart sized to this widget, fed with `set_series` and redrawn at a bounded rate.

    The widget shows exactly the series it is given; the app decides which trials and metrics
    those are (see `tui.plotting.series`) and sets `metric` so the title and axis say the same.
    Call `set_series` from the UI thread (a worker posts a message first).
    """

    DEFAULT_CSS = canvas_css("LossPlot")

    log_y: reactive[bool] = reactive(False, repaint=False)
    metric: reactive[str] = reactive("loss", repaint=False)
    x_label: reactive[str] = reactive("epoch", repaint=False)
    plot_title: reactive[str] = reactive("", repaint=False)

    def __init__(
        self,
        *,
        max_fps: float = 4.0,
        empty_hint: str = EMPTY_HINT,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        if not max_fps > 0:
            raise ValueError(f"`max_fps > 0` must hold, got max_fps={max_fps!r}")
        self.max_fps = max_fps
        self.empty_hint = empty_hint
        self._series: tuple[Series, ...] = ()
        self._dirty = True

    @property
    def series(self) -> tuple[Series, ...]:
        return self._series

    def set_series(self, series: Iterable[Series]) -> None:
        """Replace what is plotted. Cheap: the next timer tick draws it."""
        self._series = tuple(series)
        self._dirty = True

    def validate_metric(self, metric: str) -> str:
        if metric not in METRIC_TITLES:
            raise ValueError(f"`metric` must be one of {', '.join(METRIC_TITLES)}, got metric={metric!r}")
        return metric

    def _mark_dirty(self) -> None:
        self._dirty = True

    watch_log_y = watch_metric = watch_x_label = watch_plot_title = _mark_dirty

    def on_mount(self) -> None:
        self.set_interval(1.0 / self.max_fps, self._tick, name="loss-plot-redraw")

    def _tick(self) -> None:
        if self._dirty and self.content_size.area:
            self.draw_now()

    @property
    def title_text(self) -> str:
        name = METRIC_TITLES[self.metric]
        return f"{self.plot_title}: {name}" if self.plot_title else name

    def _draw(self) -> None:
        self._dirty = False
        super()._draw()

    def make_chart(self, width: int, height: int) -> Chart | str:
        if not self._series:
            return self.empty_hint
        return build_chart(self._series, width, height, title=self.title_text, x_label=self.x_label,
                           y_label=METRIC_TITLES[self.metric], log_y=self.log_y)
