"""The cockpit's sweep keys: start one from the dialog, pause, stop, analyse it, compare two trials.

Mixed into TunedeckApp, which supplies `sweeps` (a SweepControl), `store`, `form`, `table`,
`search`, `parallel` and the status widgets; kept apart so that app.py stays a composition of parts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import TunedeckError
from engine.sweeps.spec import SearchSpec
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.sweep_analysis import SweepAnalysisScreen
from tui.screens.sweep_dialog import SweepDialog

if TYPE_CHECKING:
    from tui.app import TunedeckApp

    _Base = TunedeckApp
else:
    _Base = object


class SweepActions(_Base):
    def action_sweep(self) -> None:
        if isinstance(self.screen, SweepDialog):  # ctrl+g in the dialog starts it: the app sees the key first
            self.screen.action_start()
            return
        if self.screen is not self.cockpit:
            return
        if self.sweeps.active:
            self.notify("A sweep is running: p pauses it, X stops it, a shows its analysis", severity="warning")
            return
        config = self.form.config
        if config is None:
            self.notify("Fix the form first: the sweep varies the form's config", severity="error")
            return

        def chosen(spec: SearchSpec | None) -> None:
            if spec is None:
                return
            self.search = spec.to_dict()
            sweep = self.sweeps.start(config, spec, manual_parallel=self.parallel)
            self.queue.threads = sweep.threads  # a trial started by hand meanwhile shares the cores fairly
            self.notify(f"sweep {sweep.id} started: {spec.planned} trials, {spec.parallel} at a time", timeout=3)
            self._update_sweep_status()
            self.cockpit.remove_class("show-form")
            self.table.focus()  # watch it: p, X and a act from the table, not in a form field

        self.push_screen(SweepDialog(config, self.search), chosen)

    def _sweep_trial_ended(self, trial_id: int) -> None:
        """From a sweep thread: hand over to the UI thread."""
        try:
            self.call_from_thread(self._after_sweep_trial)
        except RuntimeError:  # the app is closing or closed
            pass

    def _after_sweep_trial(self) -> None:
        self._table_dirty = True
        self._update_sweep_status()
        if isinstance(self.screen, SweepAnalysisScreen) and self.screen.sweep_id == self.sweeps.last_id:
            self.screen.refresh_results()

    def _update_sweep_status(self) -> None:
        if not self._cockpit_ready() or self.sweeps.sweep is None:
            return
        if not self.sweeps.active:
            self.queue.threads = None  # the sweep ended: trials started by hand get the cores again
        text = self.sweeps.status_line() + " · a: analysis"
        if text != getattr(self, "_sweep_text", None):
            self._sweep_text = text
            self._sweep_status.update(text)
            self._sweep_status.add_class("on")

    def action_resume_sweep(self) -> None:
        """Go on with the highlighted trial's sweep, or the newest one that was stopped or interrupted."""
        if self.sweeps.active:
            self.notify("A sweep is running: p pauses it, X stops it", severity="warning", timeout=3)
            return
        sweep_id = self._sweep_for_analysis()
        candidates = [s for s in self.store.sweeps() if s.state in ("stopped", "interrupted")]
        if sweep_id is None or sweep_id not in {s.id for s in candidates}:
            sweep_id = candidates[-1].id if candidates else None
        if sweep_id is None:
            self.notify("No stopped or interrupted sweep to resume", severity="warning", timeout=3)
            return
        try:
            sweep = self.sweeps.resume(sweep_id, manual_parallel=self.parallel)
        except TunedeckError as exc:
            self.notify(str(exc), title="Cannot resume", severity="error")
            return
        self.queue.threads = sweep.threads
        done = sweep.progress().done
        self.notify(f"sweep {sweep.id} resumed: {done} of {sweep.spec.planned} done", timeout=3)
        self._update_sweep_status()

    def action_pause_sweep(self) -> None:
        state = self.sweeps.toggle_pause()
        if state is None:
            self.notify("No sweep is running", severity="warning", timeout=2)
            return
        self.notify("sweep paused: running trials finish, no new ones start" if state == "paused"
                    else "sweep resumed", timeout=3)
        self._update_sweep_status()

    def action_stop_sweep(self) -> None:
        if not self.sweeps.active:
            self.notify("No sweep is running", severity="warning", timeout=2)
            return

        def answered(stop: bool | None) -> None:
            if stop and self.sweeps.stop():
                self.notify("stopping the sweep: its running trials end after their current batch", timeout=3)

        self.push_screen(ConfirmScreen("Stop the sweep? Its running trials are cancelled; finished ones stay.",
                                       yes="Stop sweep", no="Keep going"), answered)

    def action_analysis(self) -> None:
        sweep_id = self._sweep_for_analysis()
        if sweep_id is None:
            self.notify("No sweep yet: ctrl+g starts one", severity="warning", timeout=3)
            return
        try:
            self.push_screen(SweepAnalysisScreen(self.store, sweep_id))
        except TunedeckError as exc:
            self.notify(str(exc), title="Cannot show the sweep", severity="error")

    def _sweep_for_analysis(self) -> int | None:
        """The highlighted trial's sweep, else the sweep started here, else the newest in the store."""
        trial_id = self.table.cursor_trial_id
        if trial_id is not None:
            try:
                sweep_id = self.store.trial(trial_id).sweep_id
            except TunedeckError:
                sweep_id = None
            if sweep_id is not None:
                return sweep_id
        if self.sweeps.last_id is not None:
            return self.sweeps.last_id
        sweeps = self.store.sweeps()
        return sweeps[-1].id if sweeps else None

    def action_compare(self) -> None:
        selected = list(self.table.selected_ids)
        cursor = self.table.cursor_trial_id
        if len(selected) == 1 and cursor is not None and cursor not in selected:
            selected.append(cursor)
        if len(selected) != 2:
            self.notify("Select two trials with space (or one, and put the cursor on the other), then v",
                        severity="warning", timeout=4)
            return
        self.push_screen(CompareScreen(self.store, selected[0], selected[1]))
