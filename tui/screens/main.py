"""The cockpit: the form on the left, the live plot top right, the trial table below it.

Below 110 columns or 30 rows there is no room for all three side by side: the screen then shows
either the form or the monitor (plot and table), and F2 switches between them.
"""
from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from engine.config.groups import Config
from tui.widgets.knob_form import KnobForm
from tui.widgets.loss_plot import LossPlot
from tui.widgets.trial_table import TrialTable

NARROW_WIDTH = 110
NARROW_HEIGHT = 30


class MainScreen(Screen[None]):
    BINDINGS = [Binding("f2", "toggle_pane", "Form/Monitor", show=False)]

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.initial = config

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield KnobForm(self.initial, id="form")
                with Horizontal(id="form-buttons"):
                    yield Button("Start ^r", variant="success", id="start")
                    yield Button("Stop ^x", variant="error", id="stop")
            with Vertical(id="right"):
                yield LossPlot(id="plot")
                yield Static("", id="sweep-status", markup=True)
                yield Static("", id="status", markup=True)
                yield TrialTable(id="table")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW_WIDTH or event.size.height < NARROW_HEIGHT
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self.app.call_later(getattr(self.app, "_update_status", lambda: None))
        if narrow and not self.has_class("show-form"):
            self.call_after_refresh(self.focus_monitor)

    def focus_monitor(self) -> None:
        """Keys must not go to a form field that is off screen: in the monitor pane, the table has them."""
        focused = self.focused
        if focused is None or self.query_one("#left") in focused.ancestors_with_self:
            self.query_one(TrialTable).focus()

    def action_toggle_pane(self) -> None:
        self.toggle_class("show-form")
        if self.has_class("show-form"):
            self.query_one(KnobForm).focus()
        else:
            self.query_one(TrialTable).focus()
