"""The cockpit: the form on the left, the monitor (live plot, status lines, trial table) on the right.

The workspace is a screen, as in Textual's own apps: its bindings (tui/cockpit_keys.py), widgets
and actions live here, so a dialog pushed on top shadows every cockpit key through the screen
stack (ctrl+s in the save dialog does not open a second one) without the app listing whose keys
are whose. The app-wide services (store, trial pool, event inbox, sweep control, last search) come
in as `Services`; the screen talks upward only through them and the app's public screen stack.

Below 110 columns or 30 rows there is no room for all three side by side: the screen then shows
either the form or the monitor, and F2 switches between them.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer

from engine.config.groups import Config
from engine.errors import TunedeckError
from engine.execution.pool import MANUAL
from engine.states import SweepState
from engine.sweeps.preset_search import load_preset_with_search
from engine.sweeps.spec import SearchSpec
from tui.cockpit_keys import COCKPIT_ACTION_NAMES, COCKPIT_BINDINGS
from tui.live import LiveTrials
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.export import ExportScreen
from tui.screens.preset_open import PresetOpenScreen
from tui.screens.preset_save import PresetSaveScreen
from tui.screens.sweep_analysis import SweepAnalysisScreen
from tui.screens.sweep_dialog import SweepDialog
from tui.services import Services
from tui.widgets.knob_form import KnobForm
from tui.widgets.loss_plot import LossPlot
from tui.widgets.monitor import Monitor
from tui.widgets.trial_table import TrialTable

NARROW_WIDTH = 110
NARROW_HEIGHT = 30
DRAIN_SECONDS = 0.25


class SweepTrialEnded(Message):
    """A trial of the live sweep has ended; posted from a pool thread (post_message is thread-safe)."""

    def __init__(self, trial_id: int) -> None:
        super().__init__()
        self.trial_id = trial_id


class CockpitScreen(Screen[None]):
    """The workspace: trials started here go to the shared pool, drained events show in the monitor."""

    BINDINGS = COCKPIT_BINDINGS

    def __init__(self, config: Config, services: Services) -> None:
        super().__init__()
        self.initial = config
        self.services = services
        self.ready = False  # built and looked up: until then the cockpit's keys do nothing
        self.monitor = Monitor(services, id="right")
        self.form: KnobForm

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield KnobForm(self.initial, id="form")
                with Horizontal(id="form-buttons"):
                    yield Button("Start ^r", variant="success", id="start")
                    yield Button("Stop ^x", variant="error", id="stop")
            yield self.monitor
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._first_paint)

    def _first_paint(self) -> None:
        # Looked up once: a DOM query over the form's ~260 widgets costs ~20 ms on a small box.
        self.form = self.query_one(KnobForm)
        self._start_button = self.query_one("#start", Button)
        self.ready = True
        self.monitor.refresh_table(force=True)
        self.monitor.update_plot()
        self.monitor.update_status()
        self.set_interval(DRAIN_SECONDS, self._drain)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys pressed while the cockpit is still being built (the form takes ~1 s) do nothing yet."""
        return self.ready if action in COCKPIT_ACTION_NAMES else True

    # The monitor's parts, by the names the rest of the cockpit (and its tests) use.
    @property
    def table(self) -> TrialTable:
        return self.monitor.table

    @property
    def plot(self) -> LossPlot:
        return self.monitor.plot

    @property
    def live(self) -> LiveTrials:
        return self.monitor.live

    def _drain(self) -> None:
        if self.ready and self.is_attached:
            self.monitor.take(self.services.inbox.drain())
            self.monitor.tick()

    @on(SweepTrialEnded)
    def _sweep_trial_ended(self) -> None:
        self.monitor.table_dirty = True
        self.monitor.update_sweep_status()
        screen = self.app.screen
        if isinstance(screen, SweepAnalysisScreen) and screen.sweep_id == self.services.sweeps.last_id:
            screen.refresh_results()

    # --- trials ---------------------------------------------------------------------------------

    def action_start_trial(self) -> None:
        config = self.form.config
        if config is None:
            first = next(iter(self.form.errors.items()), None)
            detail = f"{first[0]}: {first[1]}" if first else "the form has errors"
            self.notify(f"Fix the form first: {detail}", title="Cannot start", severity="error")
            if first:
                self.form.focus_key(first[0])
            return
        if self.services.closing:
            self.notify("tunedeck is quitting: no new trial starts", severity="warning", timeout=2)
            return
        pool = self.services.pool
        busy = len(pool.running_ids(MANUAL)) >= pool.parallel
        trial_id = pool.submit(config)
        self.monitor.table_dirty = True
        if busy:
            self.notify(f"trial {trial_id} queued ({len(pool.waiting_ids(MANUAL))} waiting)", timeout=2)
        else:
            self.notify(f"trial {trial_id} started", timeout=2)
        self.monitor.update_status()

    def action_parallel(self, change: int) -> None:
        """How many trials started by hand train at once; raised, waiting ones start now."""
        pool = self.services.pool
        pool.set_parallel(max(1, pool.parallel + change))
        self.notify(f"{pool.parallel} trial(s) at once", timeout=2)
        self.monitor.update_status()

    def action_stop_trial(self) -> None:
        """The highlighted trial: a sweep's (the sweep goes on), else a manual one; else the newest running."""
        trial_id = self.table.cursor_trial_id
        if trial_id is not None and self.services.sweeps.cancel_trial(trial_id):
            self.monitor.table_dirty = True
            self.notify(f"stopping trial {trial_id}; the sweep goes on (X stops the sweep)", timeout=3)
            return
        pool = self.services.pool
        running = pool.running_ids(MANUAL)
        if trial_id is None or (trial_id not in running and trial_id not in pool.waiting_ids(MANUAL)):
            if not running:
                self.notify("No trial is running", severity="warning", timeout=2)
                return
            trial_id = running[-1]
        pool.cancel(trial_id)
        self.monitor.table_dirty = True
        self.notify(f"stopping trial {trial_id}", timeout=2)

    @on(TrialTable.OpenRequested)
    def _open_trial(self, event: TrialTable.OpenRequested) -> None:
        def closed(clone: int | None) -> None:  # the detail view's c: clone this trial
            if clone is not None:
                self.clone_trial(clone)

        self.app.push_screen(DetailScreen(self.services.store, event.trial_id), closed)

    @on(TrialTable.Highlighted)
    @on(TrialTable.SelectionChanged)
    def _table_moved(self) -> None:
        if self.ready:
            self.monitor.update_plot()

    def action_clone(self) -> None:
        trial_id = self.table.cursor_trial_id
        if trial_id is None:
            self.notify("No trial to clone", severity="warning", timeout=2)
            return
        self.clone_trial(trial_id)

    def clone_trial(self, trial_id: int) -> None:
        """Load a stored trial's config into the form."""
        try:
            config = Config.from_dict(self.services.store.trial(trial_id).config)
        except TunedeckError as exc:
            self.notify(str(exc), title=f"Cannot clone trial {trial_id}", severity="error")
            return
        self.form.load(config)
        self.notify(f"trial {trial_id}'s config is in the form", timeout=2)

    def action_toggle_log(self) -> None:
        self.monitor.toggle_log()

    def action_cycle_metric(self) -> None:
        self.monitor.cycle_metric()

    def action_toggle_steps(self) -> None:
        self.monitor.toggle_steps()

    # --- form, presets, export ------------------------------------------------------------------

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        if self.ready:
            self.action_start_trial()

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        if self.ready:
            self.action_stop_trial()

    @on(KnobForm.Changed)
    def _form_changed(self, event: KnobForm.Changed) -> None:
        if self.ready:
            self._start_button.disabled = event.config is None

    def action_open_preset(self) -> None:
        def loaded(ref: str | None) -> None:
            if not ref:
                return
            try:
                config, search = load_preset_with_search(ref)
            except TunedeckError as exc:
                self.notify(str(exc), title="Preset not loaded", severity="error", timeout=10)
                return
            self.form.load(config)
            if search:
                self.services.search = search  # the Sweep dialog starts from the preset's [search]
            self.notify(f"loaded {ref}", timeout=2)

        self.app.push_screen(PresetOpenScreen(), loaded)

    def action_save_preset(self) -> None:
        config = self.form.config
        if config is None:
            self.notify("Fix the form before saving it", severity="error")
            return
        self.app.push_screen(PresetSaveScreen(config, self.services.search), self._say_written("saved", 3))

    def action_export(self) -> None:
        self.app.push_screen(ExportScreen(self.table.current_view(), self.services.store),
                             self._say_written("wrote", 5))

    def _say_written(self, verb: str, timeout: float) -> Callable[[Path | None], None]:
        """A dialog's callback that names the file it wrote (and says nothing when cancelled)."""
        def said(path: Path | None) -> None:
            if path:
                self.notify(f"{verb} {path}", timeout=timeout)
        return said

    # --- sweeps ---------------------------------------------------------------------------------

    def action_sweep(self) -> None:
        """The Sweep dialog around the form's config; ctrl+g inside it starts the sweep (its own key)."""
        sweeps = self.services.sweeps
        if sweeps.active:
            self.notify("A sweep is running: p pauses it, X stops it, a shows its analysis", severity="warning")
            return
        config = self.form.config
        if config is None:
            self.notify("Fix the form first: the sweep varies the form's config", severity="error")
            return

        def chosen(spec: SearchSpec | None) -> None:
            if spec is None:
                return
            self.services.search = spec.to_dict()
            try:
                sweep = sweeps.start(config, spec)
            except TunedeckError as exc:
                self.notify(str(exc), title="Cannot start the sweep", severity="error")
                return
            self.notify(f"sweep {sweep.id} started: {spec.planned} trials, {spec.parallel} at a time", timeout=3)
            self.monitor.update_sweep_status()
            self.focus_table()  # watch it: p, X and a act from the table, not in a form field

        self.app.push_screen(SweepDialog(config, self.services.search), chosen)

    def action_resume_sweep(self) -> None:
        """Go on with the highlighted trial's sweep, or the newest one that was stopped or interrupted."""
        sweeps = self.services.sweeps
        if sweeps.active:
            self.notify("A sweep is running: p pauses it, X stops it", severity="warning", timeout=3)
            return
        sweep_id = sweeps.resumable(self.services.sweep_in_view(self.table.cursor_trial_id))
        if sweep_id is None:
            self.notify("No stopped or interrupted sweep to resume", severity="warning", timeout=3)
            return
        try:
            sweep = sweeps.resume(sweep_id)
        except TunedeckError as exc:
            self.notify(str(exc), title="Cannot resume", severity="error")
            return
        self.notify(f"sweep {sweep.id} resumed: {sweep.progress().done} of {sweep.spec.planned} done", timeout=3)
        self.monitor.update_sweep_status()

    def action_pause_sweep(self) -> None:
        state = self.services.sweeps.toggle_pause()
        if state is None:
            self.notify("No sweep is running", severity="warning", timeout=2)
            return
        self.notify("sweep paused: running trials finish, no new ones start" if state == SweepState.PAUSED
                    else "sweep resumed", timeout=3)
        self.monitor.update_sweep_status()

    def action_stop_sweep(self) -> None:
        sweeps = self.services.sweeps
        if not sweeps.active:
            self.notify("No sweep is running", severity="warning", timeout=2)
            return

        def answered(stop: bool | None) -> None:
            if stop and sweeps.stop():
                self.notify("stopping the sweep: its running trials end after their current batch", timeout=3)

        self.app.push_screen(ConfirmScreen("Stop the sweep? Its running trials are cancelled; finished ones stay.",
                                           yes="Stop sweep", no="Keep going"), answered)

    def action_analysis(self) -> None:
        sweep_id = self.services.sweep_in_view(self.table.cursor_trial_id)
        if sweep_id is None:
            self.notify("No sweep yet: ctrl+g starts one", severity="warning", timeout=3)
            return
        try:
            self.app.push_screen(SweepAnalysisScreen(self.services.store, sweep_id))
        except TunedeckError as exc:
            self.notify(str(exc), title="Cannot show the sweep", severity="error")

    def action_compare(self) -> None:
        selected = list(self.table.selected_ids)
        cursor = self.table.cursor_trial_id
        if len(selected) == 1 and cursor is not None and cursor not in selected:
            selected.append(cursor)
        if len(selected) != 2:
            self.notify("Select two trials with space (or one, and put the cursor on the other), then v",
                        severity="warning", timeout=4)
            return
        self.app.push_screen(CompareScreen(self.services.store, selected[0], selected[1]))

    # --- panes ----------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW_WIDTH or event.size.height < NARROW_HEIGHT
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self.monitor.narrow = narrow
            if self.ready:
                self.call_later(self.monitor.update_status)
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

    def action_switch_focus(self) -> None:
        """Jump between the trial table and the form without tabbing through every field."""
        if self.focused is self.table:
            if self.has_class("narrow"):
                self.add_class("show-form")
            self.form.focus_key("optim.lr")
        else:
            self.focus_table()

    def focus_table(self) -> None:
        """The monitor pane in front and the table focused."""
        self.remove_class("show-form")
        self.table.focus()
