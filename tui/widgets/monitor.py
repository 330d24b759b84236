"""The cockpit's monitor pane: the live plot, the sweep and run status lines, and the trial table.

It shows what trains, whoever trains it; the cockpit screen decides what to do. `tick` (every
drain interval) polls the store follower, which reads nothing unless some process committed and
then only the rows that changed; the curves of running trials grow from the new metric rows
(LiveTrials), finished ones come from the store (PlotData); the table's frame is patched with the
changed rows at most once a second; the status lines repaint only when their text changed.
"""
from __future__ import annotations

import time
from functools import cached_property

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.errors import TunedeckError
from engine.states import TrialState
from engine.store import TrialRecord
from engine.sweeps.progress import stored_progress
from engine.sweeps.sweep import SweepProgress
from engine.tables.follower import Update
from tui.front_marks import FrontMarks
from tui.live import LiveTrials
from tui.plot_focus import PlotFocus
from tui.plotdata import PlotData
from tui.services import Services
from tui.status_text import run_status_line, sweep_status_line
from tui.text import markup
from tui.widgets.loss_plot import LossPlot
from tui.widgets.trial_table import TrialTable

TABLE_REFRESH_SECONDS = 1.0
SUPERVISOR_REFRESH_SECONDS = 2.0
METRICS = ("loss", "accuracy", "lr")
SWEEP_HINT = " · a: analysis"


class Monitor(Vertical):
    def __init__(self, services: Services, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.services = services
        self.live = LiveTrials(services.store)
        self.front_marks = FrontMarks(services.store)  # ◆ after the names of Pareto front trials
        self.plotdata = PlotData(services.store, self.live)
        self.follow = PlotFocus()  # which trials the plot shows; where the cursor goes
        self._cursor_to: int | None = None  # a new trial the cursor moves to once the table has its row
        self._seen_running: set[int] = set()
        self.metric = "loss"
        self.show_steps = False
        self.narrow = False  # the cockpit shows one pane at a time: the status line says F2
        self.table_dirty = True  # a row changed since the table was last rebuilt
        self.table_refreshes = 0  # how often the table took a new frame (tests count, never time)
        self._table_refreshed = 0.0
        self._shown: dict[str, str] = {}  # status widget id -> text on screen
        self._sweep: tuple[int, tuple, SweepProgress] | None = None  # sweep id, its counts, its progress
        self._supervisor_read = 0.0
        self._moved = False  # the last tick saw some change in the store
        self._counts_seen: dict[int, tuple] = {}
        self._notes: dict[int, str] = {}  # trial id -> the note last seen (a new one is shown once)  # sweep id -> its counts when `sweep_changed` last asked

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

    def take(self, update: Update) -> None:
        """Fold in what the store follower saw; the plot redraws when a trial it shows moved."""
        if not update:
            return
        new_start = max((r.id for r in update.trials if self._started(r)), default=None)
        changed = self.live.apply(update)
        if new_start is not None:
            target = self.follow.started(new_start)
            if target is not None:
                self._cursor_to = target
        if update.trials:
            self.table_dirty = True
            for record in update.trials:
                if record.state.is_finished:
                    self.plotdata.forget(record.id)  # read again, complete, when next shown
                if record.note and self._notes.get(record.id) != record.note:
                    if record.id in self._notes or not record.state.is_finished:
                        self.app.notify(markup(record.note, 500), title=f"trial {record.id}", severity="warning", timeout=8)
                self._notes[record.id] = record.note or ""
        if changed & set(self.shown()) or update.trials:
            self.update_plot()

    def _started(self, record: TrialRecord) -> bool:
        """Seen running for the first time, or over without a tick having seen it run (it lasted less
        than a drain interval): either way a trial the plot should turn to."""
        if record.state is TrialState.RUNNING:
            if record.id in self._seen_running:
                return False
            self._seen_running.add(record.id)
            return True
        return record.state.is_finished and record.started_at is not None and record.id not in self._seen_running

    def tick(self) -> None:
        update = self.services.follower.poll()
        self._moved = bool(update)
        self.take(update)
        now = time.monotonic()
        if now - self._supervisor_read >= SUPERVISOR_REFRESH_SECONDS:
            self._supervisor_read = now
            self.services.forget_parallel()  # another client may have changed it
        self.update_status()
        if update:
            self.update_sweep_status()
        self.refresh_table()

    def refresh_table(self, force: bool = False) -> None:
        """Patch the table's frame with the changed rows, at most once a second."""
        now = time.monotonic()
        if not force and (not self.table_dirty or now - self._table_refreshed < TABLE_REFRESH_SECONDS):
            return
        self.table_dirty = False
        self._table_refreshed = now
        follower = self.services.follower
        if force or follower.frame_stale:
            self.table.set_frame(self.front_marks.apply(follower.frame))
            self.table_refreshes += 1
        if self._cursor_to is not None and self.table.move_to_trial(self._cursor_to):
            self._cursor_to = None

    # --- status lines ---------------------------------------------------------------------------

    def update_status(self) -> None:
        services = self.services
        running = services.running()
        last: dict[int, tuple[int, float]] = {}
        for trial_id in running:
            live = self.live.get(trial_id)
            point = live.last("val_loss") if live is not None else None
            if point is not None:
                last[trial_id] = point
        self._show(self._status, run_status_line(running, len(services.queued()), services.parallel, last,
                                                 self.metric, self.plot.log_y, self.show_steps, self.narrow))

    def update_sweep_status(self) -> None:
        """The line of the sweep in view (the highlighted trial's, the one started here, the newest running);
        its progress is read again only when its trials' counts changed."""
        sweep_id = self.services.sweep_in_view(self.table.cursor_trial_id)
        if sweep_id is None:
            return
        try:
            record = self.services.store.sweep(sweep_id)
            key = (record.state, tuple(sorted(record.counts.items())))
            if self._sweep is None or self._sweep[:2] != (sweep_id, key):
                self._sweep = (sweep_id, key, stored_progress(self.services.store, sweep_id))
        except TunedeckError:
            return
        self._show(self._sweep_status, sweep_status_line(sweep_id, self._sweep[2]) + SWEEP_HINT)
        self._sweep_status.add_class("on")

    def sweep_changed(self, sweep_id: int) -> bool:
        """Did the sweep's trials start or end since the last time this was asked (checked only after a
        tick that saw the store change)?"""
        if not self._moved:
            return False
        try:
            record = self.services.store.sweep(sweep_id)
        except TunedeckError:
            return False
        key = (record.state, tuple(sorted(record.counts.items())))
        changed = self._counts_seen.get(sweep_id) not in (None, key)
        self._counts_seen[sweep_id] = key
        return changed

    def _show(self, widget: Static, text: str) -> None:
        """Repaint only what changed: the lines are asked four times a second."""
        key = widget.id or ""
        if self._shown.get(key) != text:
            self._shown[key] = text
            # One line of fixed height and full width (styles.tcss): new text never changes the layout,
            # and asking for one re-lays out the whole screen, the form's ~260 widgets included.
            widget.update(text, layout=False)

    # --- plot -----------------------------------------------------------------------------------

    def shown(self) -> list[int]:
        """The trials on the plot (tui/plot_focus.py has the rules), the main one first."""
        return self.follow.shown(self.live.running(), self.table.selected_ids, self.table.cursor_trial_id)

    def focus_trial(self) -> int | None:
        """The plot's main trial: the newest running one, else the one that ran last or was picked."""
        shown = self.shown()
        return shown[0] if shown else None

    def user_highlighted(self, trial_id: int) -> None:
        self.follow.highlighted(trial_id)
        if self._cursor_to is not None and trial_id != self._cursor_to:
            self._cursor_to = None  # the user moved first: the cursor stays where they put it

    def update_plot(self) -> None:
        plot = self.plot
        plot.metric = self.metric
        plot.x_label = "step" if self.show_steps and self.metric == "loss" else "epoch"
        plot.set_series(self.plotdata.series(self.shown(), self.metric, self.show_steps))

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
