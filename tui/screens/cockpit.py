"""The cockpit: the form on the left, the monitor (live plot, status lines, trial table) on the right.

The dialogs and views it opens are imported when first opened, not with the cockpit: they (and
plotext, polars' heavier parts behind them) stay off the path to the first frame.

The workspace is a screen, as in Textual's own apps: its bindings (tui/cockpit_keys.py), widgets
and actions live here, so a dialog pushed on top shadows every cockpit key through the screen
stack (ctrl+s in the save dialog does not open a second one) without the app listing whose keys
are whose. The app-wide services (store, its follower, the supervisor client, last search) come
in as `Services`; the screen talks upward only through them and the app's public screen stack.

Below 110 columns or 30 rows there is no room for all three side by side: the screen then shows
either the form or the monitor, and F2 switches between them.
"""
from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button

from engine.config.groups import Config
from engine.errors import TunedeckError
from engine.sweeps.preset_search import load_preset_with_search
from tui.cockpit_keys import COCKPIT_ACTION_NAMES, COCKPIT_BINDINGS
from tui.live import LiveTrials
from tui.screens.cockpit_sweeps import CockpitSweepActions
from tui.screens.find_knob import FindKnobScreen
from tui.services import Services
from tui.widgets.cockpit_footer import CockpitFooter
from tui.widgets.knob_form import KnobForm
from tui.widgets.loss_plot import LossPlot
from tui.widgets.monitor import Monitor
from tui.widgets.trial_table import TrialTable

NARROW_WIDTH = 110
NARROW_HEIGHT = 30
DRAIN_SECONDS = 0.25


class CockpitScreen(CockpitSweepActions, Screen[None]):
    """The workspace: trials and sweeps started here are queued for the store's supervisor; the
    monitor follows the store, so it shows them (and any other process's) as they train."""

    BINDINGS = COCKPIT_BINDINGS
    AUTO_FOCUS = "TrialTable"  # never a field: a key pressed first must not land in one

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
        yield CockpitFooter()

    def on_mount(self) -> None:
        self.call_after_refresh(self._first_paint)

    def _first_paint(self) -> None:
        # Looked up once: a DOM query over the form's ~260 widgets costs ~20 ms on a small box.
        self.form = self.query_one(KnobForm)
        self._start_button = self.query_one("#start", Button)
        self.ready = True
        self.monitor.take(self.services.follower.poll())  # every stored trial, read once
        self.monitor.refresh_table(force=True)
        # What was just read lives as long as the app: keep it out of the collector's full passes,
        # which otherwise walk 100,000 records and freeze the UI for a second (measured).
        gc.freeze()
        self.monitor.update_plot()
        self.monitor.update_status()
        self.set_interval(DRAIN_SECONDS, self._drain)
        self.call_after_refresh(self.services.resume_queued_work)
        if self.services.store.read_only:
            self.notify(f"the store is read-only here ({self.services.store.read_only}): look, sort, compare and "
                        "export; starting or stopping trials needs write access", title="Read-only",
                        severity="warning", timeout=15)
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
            self.monitor.tick()
            self._sweep_moved()

    def _sweep_moved(self) -> None:
        """The sweep analysis on top follows its sweep as trials end."""
        screen = self.app.screen
        if type(screen).__name__ == "SweepAnalysisScreen" and self.monitor.sweep_changed(screen.sweep_id):  # type: ignore[attr-defined]
            screen.refresh_results()

    def _wrote(self) -> None:
        """This process queued or changed something: show it at the next tick, not after the next commit."""
        self.services.follower.nudge()
        self.monitor.table_dirty = True

    # --- trials ---------------------------------------------------------------------------------

    def action_start_trial(self) -> None:
        config = self.form.config
        if config is None:
            first = next(iter(self.form.errors.items()), None)
            detail = f"{first[0]}: {first[1]}" if first else "the form has errors"
            self.notify(f"Fix the form first: {detail}", title="Cannot start", severity="error")
            if first:
                self.form.reveal(first[0])
            return
        services = self.services
        if services.closing:
            self.notify("tunedeck is quitting: no new trial starts", severity="warning", timeout=2)
            return
        busy = len(services.supervised_running()) >= services.parallel
        try:
            trial_id = services.client.enqueue(config)
        except TunedeckError as exc:
            self.notify(str(exc), title="Cannot start", severity="error")
            return
        self._wrote()
        if busy:
            self.notify(f"trial {trial_id} queued ({len(services.queued()) + 1} waiting)", timeout=2)
        else:
            self.notify(f"trial {trial_id} started", timeout=2)
        self.monitor.update_status()

    def action_parallel(self, change: int) -> None:
        """How many queued trials train at once; raised, waiting ones start now."""
        services = self.services
        try:
            services.set_parallel(services.parallel + change)
        except TunedeckError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"{services.parallel} trial(s) at once", timeout=2)
        self.monitor.update_status()

    def action_stop_trial(self) -> None:
        """The highlighted trial if it runs or waits (a sweep's: the sweep goes on), else the newest running."""
        services = self.services
        trial_id = self.table.cursor_trial_id
        active = set(services.running()) | set(services.queued())
        if trial_id is None or trial_id not in active:
            running = services.supervised_running()
            if not running:
                self.notify("No trial is running", severity="warning", timeout=2)
                return
            trial_id = running[-1]
        try:
            said = services.client.cancel(trial_id)
        except TunedeckError as exc:
            self.notify(str(exc), title=f"Cannot stop trial {trial_id}", severity="error", timeout=6)
            return
        self._wrote()
        record = services.follower.get(trial_id)
        if record is not None and record.sweep_id is not None:
            said += "; the sweep goes on (X stops the sweep)"
        self.notify(said, timeout=3)

    def action_resume_trial(self) -> None:
        """The highlighted interrupted or cancelled trial goes on from its last checkpoint, as itself."""
        trial_id = self.table.cursor_trial_id
        if trial_id is None:
            self.notify("No trial highlighted", severity="warning", timeout=2)
            return
        try:
            epoch = self.services.client.resume_trial(trial_id)
        except TunedeckError as exc:
            self.notify(str(exc), title=f"Cannot resume trial {trial_id}", severity="warning", timeout=6)
            return
        self._wrote()
        self.notify(f"trial {trial_id} resumes from epoch {epoch}", timeout=3)

    @on(TrialTable.OpenRequested)
    def _open_trial(self, event: TrialTable.OpenRequested) -> None:
        def closed(clone: int | None) -> None:  # the detail view's c: clone this trial
            if clone is not None:
                self.clone_trial(clone)

        from tui.screens.detail import DetailScreen

        self.app.push_screen(DetailScreen(self.services.store, event.trial_id), closed)

    @on(TrialTable.Highlighted)
    def _table_moved(self, event: TrialTable.Highlighted) -> None:
        if self.ready:
            self.monitor.user_highlighted(event.trial_id)
            self.monitor.update_plot()

    @on(TrialTable.SelectionChanged)
    def _selection_changed(self) -> None:
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

        from tui.screens.preset_open import PresetOpenScreen

        self.app.push_screen(PresetOpenScreen(), loaded)

    def action_save_preset(self) -> None:
        config = self.form.config
        if config is None:
            self.notify("Fix the form before saving it", severity="error")
            return
        from tui.screens.preset_save import PresetSaveScreen

        self.app.push_screen(PresetSaveScreen(config, self.services.search), self._say_written("saved", 3))

    def action_lr_find(self) -> None:
        """The learning-rate probe on the form's config; Enter there puts its suggestion into optim.lr."""
        from tui.screens.lr_find import LrFindScreen, put_rate

        if self.form.config is None:
            self.notify("Fix the form first: the probe runs the form's config", title="Cannot probe", severity="error")
        else:
            self.app.push_screen(LrFindScreen(self.form.config), lambda lr: put_rate(self.form, lr))

    def action_export(self) -> None:
        from tui.screens.export import ExportScreen

        self.app.push_screen(ExportScreen(self.table.current_view(), self.services.store),
                             self._say_written("wrote", 5))

    def action_devices(self) -> None:
        from tui.screens.devices import DevicesScreen

        self.app.push_screen(DevicesScreen(self.services.store))

    def _say_written(self, verb: str, timeout: float) -> Callable[[Path | None], None]:
        """A dialog's callback that names the file it wrote (and says nothing when cancelled)."""
        def said(path: Path | None) -> None:
            if path:
                self.notify(f"{verb} {path}", timeout=timeout)
        return said

    # --- sweeps ---------------------------------------------------------------------------------

    def action_compare(self) -> None:
        selected = list(self.table.selected_ids)
        cursor = self.table.cursor_trial_id
        if len(selected) == 1 and cursor is not None and cursor not in selected:
            selected.append(cursor)
        if len(selected) != 2:
            self.notify("Select two trials with space (or one, and put the cursor on the other), then v",
                        severity="warning", timeout=4)
            return
        from tui.screens.compare import CompareScreen

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
            self.form.reveal("name")  # the form's first field, marked ▸
        else:
            self.table.focus()

    def action_switch_focus(self) -> None:
        """Jump between the trial table and the form without tabbing through every field."""
        if self.focused is self.table:
            if self.has_class("narrow"):
                self.add_class("show-form")
            self.form.reveal("optim.lr")
        else:
            self.focus_table()

    async def action_table(self, action: str) -> None:
        """A table key pressed with the focus elsewhere (alt+s, F3): the table acts all the same."""
        await self.table.run_action(action)

    def action_find_knob(self) -> None:
        form = self.form
        hidden = frozenset(key for key, applies in form.state.applies.items() if not applies)

        def picked(key: str | None) -> None:
            if key is None:
                return
            if self.has_class("narrow"):
                self.add_class("show-form")
            form.reveal(key)
            if key in hidden:
                self.notify(f"{key} does not apply to the current values: shown while it has the focus",
                            timeout=4)

        self.app.push_screen(FindKnobScreen(form.keys, hidden), picked)

    def focus_table(self) -> None:
        """The monitor pane in front and the table focused."""
        self.remove_class("show-form")
        self.table.focus()
