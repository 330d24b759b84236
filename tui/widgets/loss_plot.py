"""The live training plot: loss, accuracy or learning rate of the running and the selected trials.

Redraws are paced by a timer rather than by data: events can arrive thousands of times a second,
and every plot rebuild holds the GIL that a Python-bound training thread needs (two redraws a
second cost nothing measurable, ten cost a third of a core). `set_series` only marks the plot
dirty; at most `max_fps` times a second a timer rebuilds it, and a resize rebuilds it at once so
the plot always fits its box.
"""
from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.plotting.chart import Chart, build_chart
from tui.plotting.series import Series

METRIC_TITLES: dict[str, str] = {"loss": "loss", "accuracy": "accuracy", "lr": "learning rate"}
EMPTY_HINT = "no trial yet: press ctrl+r to train"


def centered_text(lines: list[str], width: int, height: int, style: str = "dim") -> Text:
    """`lines` centred in a width x height block, so an empty plot reads as a message, not a gap."""
    lines = [line[:width] for line in lines][:height]
    top = max(0, (height - len(lines)) // 2)
    rows = [""] * top + [line.center(width) for line in lines]
    rows += [""] * (height - len(rows))
    return Text("\n".join(row.ljust(width) for row in rows), style=style, no_wrap=True, end="")


class LossPlot(Widget):
    """A plotext chart sized to this widget, fed with `set_series` and redrawn at a bounded rate.

    The widget shows exactly the series it is given; the app decides which trials and metrics
    those are (see `tui.plotting.series`) and sets `metric` so the title and axis say the same.
    Call `set_series` from the UI thread (a worker posts a message first).
    """

    DEFAULT_CSS = """
    LossPlot {
        width: 1fr;
        height: 1fr;
        min-height: 8;
    }
    """

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
        self.render_count = 0
        self.last_chart: Chart | None = None
        self._series: tuple[Series, ...] = ()
        self._dirty = True
        self._content = Text("")
        self._drawn_size: tuple[int, int] | None = None

    @property
    def series(self) -> tuple[Series, ...]:
        return self._series

    @property
    def content_text(self) -> Text:
        """What the last draw produced: the plot, or the hint shown in its place."""
        return self._content

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

    def draw_now(self) -> Text:
        """Draw at once, whatever the rate limit; tests use this for a synchronous render."""
        self._draw()
        self.refresh()
        return self._content

    @property
    def title_text(self) -> str:
        name = METRIC_TITLES[self.metric]
        return f"{self.plot_title}: {name}" if self.plot_title else name

    def _draw(self) -> None:
        width, height = self.content_size
        self.render_count += 1
        self._dirty = False
        self._drawn_size = (width, height)
        if not self._series:
            self.last_chart = None
            self._content = centered_text([self.empty_hint], width, height)
            return
        try:
            chart = build_chart(self._series, width, height, title=self.title_text, x_label=self.x_label,
                                y_label=METRIC_TITLES[self.metric], log_y=self.log_y)
        except Exception as error:  # a plot must never take the app down; say what went wrong instead
            self.log.error(f"LossPlot: drawing failed: {error!r}")
            self.last_chart = None
            self._content = centered_text([self.title_text, f"cannot draw the plot: {error}"], width, height)
            return
        self.last_chart = chart
        if chart.text is None:
            self._content = centered_text([chart.title, chart.hint], width, height)
        else:
            self._content = Text.from_ansi(chart.text, no_wrap=True, end="")

    def render(self) -> Text:
        size = tuple(self.content_size)
        if not size[0] or not size[1]:
            return Text("")
        if self._drawn_size != size:
            self._draw()
        return self._content
