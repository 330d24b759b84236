"""What the plot widgets share: a `Chart` drawn into cached text at the widget's size.

The one Textual part of `tui.plotting`: the drawing itself stays in plain functions
(`chart.build_chart`, `scatter.build_scatter`, ...) that tests and benchmarks call alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from tui.plotting.chart import Chart

if TYPE_CHECKING:
    from textual.widget import Widget

    _WidgetBase = Widget
else:
    _WidgetBase = object


def canvas_css(type_name: str) -> str:
    """DEFAULT_CSS for a plot widget: it fills its container, and keeps room for axes and a title."""
    return f"""
    {type_name} {{
        width: 1fr;
        height: 1fr;
        min-height: 8;
    }}
    """


def centered_text(lines: list[str], width: int, height: int, style: str = "dim") -> Text:
    """`lines` centred in a width x height block, so an empty plot reads as a message, not a gap."""
    lines = [line[:width] for line in lines][:height]
    top = max(0, (height - len(lines)) // 2)
    rows = [""] * top + [line.center(width) for line in lines]
    rows += [""] * (height - len(rows))
    return Text("\n".join(row.ljust(width) for row in rows), style=style, no_wrap=True, end="")


class ChartCanvas(_WidgetBase):
    """Mixin for a widget that shows a `Chart` sized to its content area: put it before the
    Textual base (`class LossPlot(ChartCanvas, Widget)`), so that the widget keeps its CSS type.

    A subclass says what to draw in `make_chart`; the drawn text is kept until the content size
    changes (`render` draws again then) or `draw_now` is called. A failing draw shows what went
    wrong in the plot's place rather than taking the screen down.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.render_count = 0
        self.last_chart: Chart | None = None
        self._content = Text("")
        self._drawn_size: tuple[int, int] | None = None

    @property
    def title_text(self) -> str:
        """The title of what is shown, for the message when drawing fails."""
        return ""

    @property
    def content_text(self) -> Text:
        """What the last draw produced: the plot, or the hint shown in its place."""
        return self._content

    def make_chart(self, width: int, height: int) -> Chart | str:
        """The chart for a `width` x `height` content area, or a message to show centred instead."""
        raise NotImplementedError

    def draw_now(self) -> Text:
        """Draw at once at the current size, whatever the widget's pacing (tests and benchmarks use it)."""
        self._draw()
        self.refresh()
        return self._content

    def _draw(self) -> None:
        width, height = self.content_size
        self.render_count += 1
        self._drawn_size = (width, height)
        self.last_chart = None
        try:
            chart = self.make_chart(width, height)
        except Exception as error:  # a plot must never take the screen down; say what went wrong
            self.log.error(f"{type(self).__name__}: drawing failed: {error!r}")
            self._content = centered_text([self.title_text, f"cannot draw the plot: {error}"], width, height)
            return
        if isinstance(chart, str):
            self._content = centered_text([chart], width, height)
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
