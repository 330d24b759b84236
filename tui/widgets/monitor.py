"""The cockpit's monitor pane: the live plot, the sweep and run status lines, and the trial table.

It shows what trains; the cockpit screen decides what to do. Events drained from the pool's inbox
come in through `take`; `tick` (every drain) repaints the status lines when their text changed and
rebuilds the table from the store at most once a second when a row changed, so a busy pool does
not cost a store query per event. Curves of running trials come from the events (LiveTrials),
finished ones from the store (PlotData).
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cached_property

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.events import EpochEnded, Event
from engine.execution.pool import MANUAL
from engine.tables.frames import trial_frame
from tui.live import LiveTrials
from tui.plotdata import PlotData
from tui.services import Services
from tui.status_text import run_status_line, sweep_status_line
from tui.widgets.loss_plot import LossPlot
from tui.widgets.trial_table import TrialTable

TABLE_REFRESH_SECONDS = 1.0
METRICS = ("loss", "accuracy", "lr")
SWEEP_HINT = " · a: analysis"


class Monitor(Vertical):
    def __init__(self, services: Services, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.services = services
        self.live = LiveTrials()
        self.plotdata = PlotData(services.store, self.live)
        self.metric = "loss"
        self.show_steps = False
        self.narrow = False  # the cockpit shows one pane at a time: the status line says F2
        self.table_dirty = True  # a row changed since the table was last rebuilt
        self._table_refreshed = 0.0
        self._shown: dict[str, str] = {}  # status widget id -> text on screen

    def compose(self) -> ComposeResult:
        yield LossPlot(id="plot")
        yield Static("", id="sweep-status", markup=True)
        yield Static("", id="status", markup=True)
        yield TrialTable(id="table")

    # Looked up once (these are asked several times a second), and only once composed.
    @cached_property
    def plot(self) -> LossPlot:
        return self.query_one(LossPlot)

    @cached_property
    def table(self) -> TrialTable:
        return self.query_one(TrialTable)

    @cached_property
    def _status(self) -> Static:
        return self.query_one("#status", Static)

    @cached_property
    def _sweep_status(self) -> Static:
        return self.query_one("#sweep-status", Static)

    # --- what comes in --------------------------------------------------------------------------

    def take(self, events: Iterable[tuple[int, Event]]) -> None:
        """Fold drained events in; the plot redraws, the table is rebuilt on the next tick if a row changed."""
        events = list(events)
        if events:
            _, rows = self.live.apply(events)
            self.table_dirty = self.table_dirty or rows
            self.update_plot()

    def tick(self) -> None:
        self.update_status()
        self.update_sweep_status()
        self.refresh_table()

    def refresh_table(self, force: bool = False) -> None:
        """Rebuild the table's frame from the store when rows changed, at most once a second."""
        now = time.monotonic()
        if not force and (not self.table_dirty or now - self._table_refreshed < TABLE_REFRESH_SECONDS):
            return
        self.table_dirty = False
        self._table_refreshed = now
        self.table.set_frame(trial_frame(self.services.store.trials()))

    # --- status lines ---------------------------------------------------------------------------

    def update_status(self) -> None:
        pool = self.services.pool
        running = pool.running_ids()
        last: dict[int, EpochEnded] = {}
        for trial_id in running:
            live = self.live.get(trial_id)
            if live is not None and live.epochs:
                last[trial_id] = live.epochs[-1]
        self._show(self._status, run_status_line(running, len(pool.waiting_ids(MANUAL)), pool.parallel, last,
                                                 self.metric, self.plot.log_y, self.show_steps, self.narrow))

    def update_sweep_status(self) -> None:
        """The live sweep's line; it appears with the first sweep started here and stays after it ended."""
        sweeps = self.services.sweeps
        progress = sweeps.progress()
        if progress is None or sweeps.sweep is None:
            return
        self._show(self._sweep_status, sweep_status_line(sweeps.sweep.id, progress) + SWEEP_HINT)
        self._sweep_status.add_class("on")

    def _show(self, widget: Static, text: str) -> None:
        """Repaint only what changed: the lines are asked four times a second."""
        key = widget.id or ""
        if self._shown.get(key) != text:
            self._shown[key] = text
            widget.update(text)

    # --- plot -----------------------------------------------------------------------------------

    def focus_trial(self) -> int | None:
        """The plot's main trial: the newest running one, else the highlighted one, else the latest."""
        running = self.live.running()
        if running:
            return running[-1]
        cursor = self.table.cursor_trial_id
        return cursor if cursor is not None else self.live.latest

    def update_plot(self) -> None:
        plot = self.plot
        plot.metric = self.metric
        plot.x_label = "step" if self.show_steps and self.metric == "loss" else "epoch"
        plot.set_series(self.plotdata.series(self.focus_trial(), self.table.selected_ids, self.metric,
                                             self.show_steps))

    def toggle_log(self) -> None:
        self.plot.log_y = not self.plot.log_y
        self._replot()

    def cycle_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self._replot()

    def toggle_steps(self) -> None:
        self.show_steps = not self.show_steps
        self._replot()

    def _replot(self) -> None:
        self.update_plot()
        self.update_status()
