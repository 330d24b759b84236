"""A learning-rate probe's loss against the rate; the plot itself is `tui.plotting.lr_chart`'s."""
from __future__ import annotations

from textual.widgets import Static

from engine.training.lr_probe import LrFinding
from tui.plotting.canvas import ChartCanvas, canvas_css
from tui.plotting.chart import Chart
from tui.plotting.lr_chart import build_lr_chart, lr_title


class LrPlot(ChartCanvas, Static):
    """Shows a finding (`show`), the points of a probe still running (`running=True`), or a line of text
    (`show_hint`). Built when painted, at the widget's size."""

    DEFAULT_CSS = canvas_css("LrPlot")

    def __init__(self, hint: str = "", *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.finding: LrFinding | None = None
        self.running = False
        self.hint = hint

    @property
    def title_text(self) -> str:
        return lr_title(self.finding, running=self.running) if self.finding is not None else ""

    def show(self, finding: LrFinding, *, running: bool = False) -> None:
        self.finding, self.running = finding, running
        self._invalidate()

    def show_hint(self, hint: str) -> None:
        self.finding, self.hint = None, hint
        self._invalidate()

    def _invalidate(self) -> None:
        self._drawn_size = None
        self.refresh()

    def make_chart(self, width: int, height: int) -> Chart | str:
        if self.finding is None:
            return self.hint
        return build_lr_chart(self.finding, width, height, running=self.running)
