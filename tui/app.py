"""The tunedeck app: composes the cockpit and turns keys into engine calls.

Trials run through the engine's TrialQueue: each is started from a Textual thread worker that
blocks in the executor (by default a warm child process, so training keeps its speed while the
UI draws). Events come back in batches and are drained on a timer; the plot redraws at a bounded
rate and the table reads the store when a trial's row changed.
"""
from __future__ import annotations

import time
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Button, Static

from engine.config.groups import Config
from engine.errors import TunedeckError
from engine.execution.executors import Executor
from engine.config.presets import load_preset, search_table
from engine.store import Store
from engine.execution.pool import TrialQueue
from engine.tables.frames import trial_frame
from tui.live import LiveTrials
from tui.plotdata import PlotData
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.export import ExportScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.preset_open import PresetOpenScreen
from tui.screens.preset_save import PresetSaveScreen
from tui.sweep_actions import SweepActions
from engine.sweeps.control import SweepControl
from tui.widgets.knob_form import KnobForm
from tui.widgets.loss_plot import LossPlot
from tui.widgets.trial_table import TrialTable

DRAIN_SECONDS = 0.25
TABLE_REFRESH_SECONDS = 1.0
METRICS = ("loss", "accuracy", "lr")


class TunedeckApp(SweepActions, App[None]):
    CSS_PATH = "styles.tcss"
    TITLE = "tunedeck"
    BINDINGS = [
        Binding("ctrl+r", "start_trial", "Start", priority=True),
        Binding("ctrl+x", "stop_trial", "Stop", priority=True),
        Binding("ctrl+o", "open_preset", "Open", priority=True),
        Binding("ctrl+s", "save_preset", "Save", priority=True),
        Binding("ctrl+g", "sweep", "Sweep", priority=True),
        Binding("p", "pause_sweep", "Pause sweep", show=False),
        Binding("X,shift+x", "stop_sweep", "Stop sweep", show=False),
        Binding("R,shift+r", "resume_sweep", "Resume sweep", show=False),
        Binding("a", "analysis", "Analysis", show=False),
        Binding("v", "compare", "Compare", show=False),
        Binding("e", "export", "Export"),
        Binding("c", "clone", "Clone"),
        Binding("l", "toggle_log", "Log y", show=False),
        Binding("m", "cycle_metric", "Metric", show=False),
        Binding("t", "toggle_steps", "Steps", show=False),
        Binding("ctrl+t", "switch_focus", "Table/Form", priority=True),
        Binding("plus", "parallel(1)", "More at once", show=False),
        Binding("minus", "parallel(-1)", "Fewer at once", show=False),
        Binding("f2", "toggle_pane", "Form/Monitor"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, config: Config, store: Store, executor: Executor, *, parallel: int = 1,
                 search: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.initial = config
        self.store = store
        self.executor = executor
        self.parallel = max(1, parallel)
        self.queue = TrialQueue(store, executor)
        self.sweeps = SweepControl(store, executor, self.queue.deliver, on_trial=self._sweep_trial_ended)
        self.search = search  # the [search] table the Sweep dialog starts from (the preset's, then the last used)
        self.live = LiveTrials()
        self.plotdata = PlotData(store, self.live)
        self.metric = "loss"
        self.show_steps = False
        self.workers_running = 0
        self.quitting = False
        self._table_dirty = True
        self._table_refreshed = 0.0

    def get_default_screen(self) -> Screen:
        return MainScreen(self.initial)

    # --- wiring ---------------------------------------------------------------------------------

    @property
    def cockpit(self) -> MainScreen:
        """The main screen, also while a dialog is on top of it."""
        return self._main

    def on_mount(self) -> None:
        self.call_after_refresh(self._first_paint)

    def _first_paint(self) -> None:
        # Looked up once: a DOM query over the form's ~260 widgets costs ~20 ms on a small box.
        self._main = next(s for s in self.screen_stack if isinstance(s, MainScreen))
        self.form = self._main.query_one(KnobForm)
        self.table = self._main.query_one(TrialTable)
        self.plot = self._main.query_one(LossPlot)
        self._status = self._main.query_one("#status", Static)
        self._sweep_status = self._main.query_one("#sweep-status", Static)
        self._start_button = self._main.query_one("#start", Button)
        self.refresh_table(force=True)
        self._update_plot()
        self._update_status()
        self.set_interval(DRAIN_SECONDS, self._drain)
        self.refresh_bindings()

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("Start trial", "Train the form's config (ctrl+r)", self.action_start_trial)
        yield SystemCommand("Stop trial", "Cancel the highlighted running trial (ctrl+x)", self.action_stop_trial)
        yield SystemCommand("Open preset", "Load a preset into the form (ctrl+o)", self.action_open_preset)
        yield SystemCommand("Save preset", "Save the form as a preset (ctrl+s)", self.action_save_preset)
        yield SystemCommand("Export table", "Write the trial table to a file (e)", self.action_export)
        yield SystemCommand("Clone trial", "Copy the highlighted trial's config into the form (c)",
                            self.action_clone)
        yield SystemCommand("Toggle log scale", "Log scale for the plot's y axis (l)", self.action_toggle_log)
        yield SystemCommand("Cycle plot metric", "Loss, accuracy, learning rate (m)", self.action_cycle_metric)
        yield SystemCommand("More trials at once", "Train one more trial in parallel (+)",
                            lambda: self.action_parallel(1))
        yield SystemCommand("Fewer trials at once", "Train one fewer trial in parallel (-)",
                            lambda: self.action_parallel(-1))
        yield SystemCommand("Sweep", "Search around the form's config: grid, random, TPE (ctrl+g)", self.action_sweep)
        yield SystemCommand("Pause or resume the sweep", "Running trials finish; no new ones start (p)",
                            self.action_pause_sweep)
        yield SystemCommand("Stop the sweep", "Cancel its running trials (X)", self.action_stop_sweep)
        yield SystemCommand("Resume a sweep", "Go on with a stopped or interrupted sweep (R)",
                            self.action_resume_sweep)
        yield SystemCommand("Sweep analysis", "Importance and each knob against the objective (a)",
                            self.action_analysis)
        yield SystemCommand("Compare two trials", "The knobs that differ, curves overlaid (v)", self.action_compare)
        yield SystemCommand("Keys", "Every key tunedeck knows (?)", self.action_help)

    # --- trials ---------------------------------------------------------------------------------

    def action_start_trial(self) -> None:
        form = self.form
        config = form.config
        if config is None:
            first = next(iter(form.errors.items()), None)
            detail = f"{first[0]}: {first[1]}" if first else "the form has errors"
            self.notify(f"Fix the form first: {detail}", title="Cannot start", severity="error")
            if first:
                form.focus_key(first[0])
            return
        trial_id = self.queue.submit(config)
        self._table_dirty = True
        busy = self.workers_running >= self.parallel
        self._start_workers()
        if busy:
            self.notify(f"trial {trial_id} queued ({len(self.queue.pending_ids)} waiting)", timeout=2)
        else:
            self.notify(f"trial {trial_id} started", timeout=2)
        self._update_status()

    @work(thread=True, exit_on_error=False, group="trials")
    def _run_queue(self) -> None:
        """One worker: trains queued trials one after another until the queue is empty."""
        try:
            # A worker beyond the allowed number (after `-`) stops once its trial ends.
            while not self.quitting and self.workers_running <= self.parallel and \
                    self.queue.run_next() is not None:
                pass
        finally:
            try:
                self.call_from_thread(self._worker_done)
            except RuntimeError:  # the app has already closed
                pass

    def _worker_done(self) -> None:
        self.workers_running -= 1
        self._table_dirty = True
        if self.quitting:
            return
        self._start_workers()
        self._update_status()

    def _start_workers(self) -> None:
        """As many workers as allowed while trials wait."""
        while self.workers_running < self.parallel and self.queue.pending_ids:
            self.workers_running += 1
            self._run_queue()

    def action_parallel(self, change: int) -> None:
        """How many trials train at once; more start at once when some are waiting."""
        self.parallel = max(1, self.parallel + change)
        self._start_workers()
        self.notify(f"{self.parallel} trial(s) at once", timeout=2)
        self._update_status()

    def action_stop_trial(self) -> None:
        trial_id = self.table.cursor_trial_id
        if trial_id is not None and self.sweeps.sweep is not None and self.sweeps.sweep.cancel_trial(trial_id):
            self._table_dirty = True
            self.notify(f"stopping trial {trial_id}; the sweep goes on (X stops the sweep)", timeout=3)
            return
        running = self.queue.running_ids
        pending = self.queue.pending_ids
        if trial_id not in running and trial_id not in pending:
            if not running:
                self.notify("No trial is running", severity="warning", timeout=2)
                return
            trial_id = running[-1]
        self.queue.cancel(trial_id)
        self._table_dirty = True
        self.notify(f"stopping trial {trial_id}", timeout=2)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys pressed while the cockpit is still being built wait for it (the form takes ~1 s); while a
        dialog is open the cockpit's keys are its own (ctrl+s in the save dialog must not open another)."""
        if action not in COCKPIT_ACTIONS:  # quit, help, the palette, Textual's own (tab in a dialog)
            return True
        if not self._cockpit_ready():
            return False
        return self.screen is self.cockpit or action == "sweep"  # ctrl+g also starts the Sweep dialog

    def _cockpit_ready(self) -> bool:
        """False before the first paint and while the app is closing down."""
        table = getattr(self, "table", None)
        return not self._exit and table is not None and table.is_attached

    def _drain(self) -> None:
        if not self._cockpit_ready():
            return
        events = self.queue.drain()
        if events:
            changed, rows = self.live.apply(events)
            self._table_dirty = self._table_dirty or rows
            self._update_plot()
            self._update_status()
        self._update_sweep_status()
        self.refresh_table()

    def refresh_table(self, force: bool = False) -> None:
        """Rebuild the table's frame from the store when rows changed, at most once a second."""
        now = time.monotonic()
        if not force and (not self._table_dirty or now - self._table_refreshed < TABLE_REFRESH_SECONDS):
            return
        self._table_dirty = False
        self._table_refreshed = now
        self.table.set_frame(trial_frame(self.store.trials()))

    # --- plot -----------------------------------------------------------------------------------

    def _focus_trial(self) -> int | None:
        running = self.live.running()
        if running:
            return running[-1]
        cursor = self.table.cursor_trial_id
        return cursor if cursor is not None else self.live.latest

    def _update_plot(self) -> None:
        if not self._cockpit_ready():
            return
        focus = self._focus_trial()
        selected = self.table.selected_ids
        plot = self.plot
        plot.metric = self.metric
        plot.x_label = "step" if self.show_steps and self.metric == "loss" else "epoch"
        plot.set_series(self.plotdata.series(focus, selected, self.metric, self.show_steps))

    def _update_status(self) -> None:
        if not self._cockpit_ready():
            return
        running = self.queue.running_ids + self.sweeps.running_ids
        pending = self.queue.pending_ids
        parts = [f"running {', '.join(f'#{t}' for t in running)}" if running else "idle",
                 f"{self.parallel} at once"]
        if pending:
            parts.append(f"{len(pending)} queued")
        for trial_id in running:
            live = self.live.get(trial_id)
            if live and live.epochs:
                e = live.epochs[-1]
                parts.append(f"#{trial_id} epoch {e.epoch} val_loss {e.val_loss:.4g}")
        parts.append(f"plot {self.metric}{' (log)' if self.plot.log_y else ''}{' steps' if self.show_steps else ''}")
        if self.cockpit.has_class("narrow"):
            parts.append("F2 form")
        self._status.update("  ·  ".join(parts))

    def action_toggle_log(self) -> None:
        self.plot.log_y = not self.plot.log_y
        self._update_plot()
        self._update_status()

    def action_cycle_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self._update_plot()
        self._update_status()

    def action_toggle_steps(self) -> None:
        self.show_steps = not self.show_steps
        self._update_plot()
        self._update_status()

    @on(TrialTable.Highlighted)
    @on(TrialTable.SelectionChanged)
    def _table_moved(self) -> None:
        self._update_plot()

    @on(TrialTable.OpenRequested)
    def _open_trial(self, event: TrialTable.OpenRequested) -> None:
        self.push_screen(DetailScreen(self.store, event.trial_id))

    # --- form, presets, export ------------------------------------------------------------------

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start_trial()

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        self.action_stop_trial()

    @on(KnobForm.Changed)
    def _form_changed(self, event: KnobForm.Changed) -> None:
        if self._cockpit_ready():
            self._start_button.disabled = event.config is None

    def action_clone(self) -> None:
        trial_id = self.table.cursor_trial_id
        if trial_id is None:
            self.notify("No trial to clone", severity="warning", timeout=2)
            return
        self.clone_trial(trial_id)

    def clone_trial(self, trial_id: int) -> None:
        try:
            config = Config.from_dict(self.store.trial(trial_id).config)
        except TunedeckError as exc:
            self.notify(str(exc), title=f"Cannot clone trial {trial_id}", severity="error")
            return
        self.form.load(config)
        self.notify(f"trial {trial_id}'s config is in the form", timeout=2)

    def action_open_preset(self) -> None:
        def loaded(ref: str | None) -> None:
            if not ref:
                return
            try:
                config = load_preset(ref)
                search = search_table(ref)
            except TunedeckError as exc:
                self.notify(str(exc), title="Preset not loaded", severity="error", timeout=10)
                return
            self.form.load(config)
            if search:
                self.search = search  # the Sweep dialog starts from the preset's [search]
            self.notify(f"loaded {ref}", timeout=2)

        self.push_screen(PresetOpenScreen(), loaded)

    def action_save_preset(self) -> None:
        config = self.form.config
        if config is None:
            self.notify("Fix the form before saving it", severity="error")
            return
        self.push_screen(PresetSaveScreen(config, self.search),
                         lambda path: path and self.notify(f"saved {path}", timeout=3))

    def action_export(self) -> None:
        frame = self.table.current_view()
        self.push_screen(ExportScreen(frame, self.store), lambda path: path and self.notify(f"wrote {path}"))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_pane(self) -> None:
        self.cockpit.action_toggle_pane()

    def action_switch_focus(self) -> None:
        """Jump between the trial table and the form without tabbing through every field."""
        main = self.cockpit
        if self.focused is self.table:
            if main.has_class("narrow"):
                main.add_class("show-form")
            self.form.focus_key("optim.lr")
        else:
            main.remove_class("show-form")
            self.table.focus()

    # --- quitting -------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        busy = self.queue.running_ids or self.queue.pending_ids or self.sweeps.active
        if not busy:
            self.exit()
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self.stop_all_and_exit()

        n = len(self.queue.running_ids) + len(self.sweeps.running_ids)
        sweep = " and a sweep" if self.sweeps.active else ""
        self.push_screen(ConfirmScreen(f"{n} trial(s) running, {len(self.queue.pending_ids)} queued{sweep}. "
                                       f"Stop them and quit? They are recorded as cancelled.",
                                       yes="Stop and quit", no="Keep training"), answered)

    def stop_all_and_exit(self) -> None:
        self.quitting = True
        self.queue.cancel_all()
        self.sweeps.stop("stopped: the app quit")
        self.notify("stopping trials…", timeout=5)
        self.set_interval(0.1, self._exit_when_idle)

    def _exit_when_idle(self) -> None:
        """Exit once every trial has recorded how it ended (each stops within a batch)."""
        if self.workers_running == 0 and not self.sweeps.busy:
            self.exit()

    def on_unmount(self) -> None:
        self.queue.cancel_all()
        self.sweeps.stop("stopped: the app quit")
        self.executor.shutdown()


# The cockpit's own keys: held back until the cockpit is built, and while a dialog is open.
COCKPIT_ACTIONS = frozenset(b.action.split("(")[0] for b in TunedeckApp.BINDINGS) - {"quit", "help"}
