"""The cockpit's sweep keys: start one from the Sweep dialog, pause, stop, resume, send the form's config
into it (`i`: it runs next), open its analysis.

Mixed into CockpitScreen (kept apart only for size: one screen, two files). Every sweep runs under
the store's supervisor, so these keys work the same on a sweep started here, in an earlier cockpit
or by `tunedeck sweep --detach`: they leave commands for the supervisor and the monitor shows what
the store says.
"""
from __future__ import annotations

from typing import Any

from engine.errors import TunedeckError, safe_text
from engine.states import SweepState
from engine.store import SweepRecord
from engine.sweeps.spec import SearchSpec
from tui.screens.confirm import ConfirmScreen
from tui.services import Services
from tui.widgets.knob_form import KnobForm
from tui.widgets.monitor import Monitor
from tui.widgets.trial_table import TrialTable

ENQUEUE_WAIT_S = 10.0


class CockpitSweepActions:
    """Needs what CockpitScreen has: its services, form, monitor and table, and a Screen's app and notify."""

    services: Services
    form: KnobForm
    monitor: Monitor
    table: TrialTable
    app: Any
    notify: Any

    def _wrote(self) -> None: ...

    def focus_table(self) -> None: ...

    def action_sweep(self) -> None:
        """The Sweep dialog around the form's config; ctrl+g inside it starts the sweep (its own key)."""
        config = self.form.config
        if config is None:
            self.notify("Fix the form first: the sweep varies the form's config", severity="error")
            return

        def chosen(spec: SearchSpec | None) -> None:
            if spec is None:
                return
            self.services.search = spec.to_dict()
            try:
                sweep_id = self.services.client.start_sweep(config, spec)
            except TunedeckError as exc:
                self.notify(str(exc), title="Cannot start the sweep", severity="error")
                return
            self.services.last_sweep = sweep_id
            self._wrote()
            self.notify(f"sweep {sweep_id} started: {spec.planned} trials, {spec.parallel} at a time", timeout=3)
            self.monitor.update_sweep_status()
            self.focus_table()  # watch it: p, X and a act from the table, not in a form field

        from tui.screens.sweep_dialog import SweepDialog  # opened when asked for: off the first frame's path

        self.app.push_screen(SweepDialog(config, self.services.search), chosen)

    def _sweep_record(self, want_active: bool) -> SweepRecord | None:
        """The sweep in view (the highlighted trial's, the one started here, the newest running), if it is
        live (`want_active`) or can be resumed; otherwise the newest one that is."""
        services = self.services
        in_view = services.sweep_in_view(self.table.cursor_trial_id)
        fits = (lambda s: s.state.is_active) if want_active else (lambda s: s.state.can_resume)
        sweeps = services.store.sweeps()
        chosen = next((s for s in sweeps if s.id == in_view and fits(s)), None)
        return chosen or next((s for s in reversed(sweeps) if fits(s)), None)

    def action_resume_sweep(self) -> None:
        """Go on with the highlighted trial's sweep, or the newest one that was stopped or interrupted."""
        record = self._sweep_record(want_active=False)
        if record is None:
            self.notify("No stopped or interrupted sweep to resume", severity="warning", timeout=3)
            return
        try:
            self.services.client.resume_sweep(record.id)
        except TunedeckError as exc:
            self.notify(str(exc), title="Cannot resume", severity="error")
            return
        self.services.last_sweep = record.id
        self._wrote()
        self.notify(f"sweep {record.id} resumed: {record.done} of {record.planned} done", timeout=3)

    def action_pause_sweep(self) -> None:
        record = self._sweep_record(want_active=True)
        if record is None:
            self.notify("No sweep is running", severity="warning", timeout=2)
            return
        client = self.services.client
        try:
            if record.state == SweepState.PAUSED:
                client.unpause_sweep(record.id)
                said = f"sweep {record.id} resumed"
            else:
                client.pause_sweep(record.id)
                said = f"sweep {record.id} paused: running trials finish, no new ones start"
        except TunedeckError as exc:
            self.notify(str(exc), severity="error")
            return
        self._wrote()
        self.notify(said, timeout=3)

    def action_stop_sweep(self) -> None:
        record = self._sweep_record(want_active=True)
        if record is None:
            self.notify("No sweep is running", severity="warning", timeout=2)
            return

        def answered(stop: bool | None) -> None:
            if not stop:
                return
            try:
                self.services.client.stop_sweep(record.id)
            except TunedeckError as exc:
                self.notify(str(exc), severity="error")
                return
            self._wrote()
            self.notify(f"stopping sweep {record.id}: its running trials end after their current batch", timeout=3)

        self.app.push_screen(ConfirmScreen(f"Stop sweep {record.id} ({safe_text(record.name, 60)})? Its running trials are "
                                           "cancelled; finished ones stay.", yes="Stop sweep", no="Keep going"),
                             answered)

    def action_enqueue_sweep(self) -> None:
        """The form's config into the running sweep (the highlighted trial's, or the newest): its searched
        knobs run next. The supervisor's answer (what was enqueued, or why not) comes as a notification."""
        config = self.form.config
        if config is None:
            self.notify("Fix the form first: its config is what goes into the sweep", severity="error")
            return
        record = self._sweep_record(want_active=True)
        if record is None:
            self.notify("No sweep is running to take the form's config: ctrl+g starts one", severity="warning",
                        timeout=3)
            return
        client = self.services.client
        try:
            command_id = client.enqueue_into_sweep(record.id, config.to_dict())
        except TunedeckError as exc:
            self.notify(str(exc), title="Cannot enqueue", severity="error")
            return
        self._wrote()

        def answered() -> None:  # in a worker thread: waiting for the supervisor must not block the UI
            command = client.wait(command_id, ENQUEUE_WAIT_S)
            said = command.result if command is not None and command.result else (
                f"the supervisor did not answer within {ENQUEUE_WAIT_S:.0f} s")
            refused = command is None or said.startswith("refused")
            self.app.call_from_thread(self.notify, safe_text(said, 300), title="Into the sweep",
                                      severity="error" if refused else "information", timeout=5)

        self.app.run_worker(answered, name="enqueue into sweep", group="enqueue-sweep", thread=True,
                            exit_on_error=False)

    def action_analysis(self) -> None:
        sweep_id = self.services.sweep_in_view(self.table.cursor_trial_id)
        if sweep_id is None:
            self.notify("No sweep yet: ctrl+g starts one", severity="warning", timeout=3)
            return
        try:
            from tui.screens.sweep_analysis import SweepAnalysisScreen  # its charts load plotext

            self.app.push_screen(SweepAnalysisScreen(self.services.store, sweep_id))
        except TunedeckError as exc:
            self.notify(str(exc), title="Cannot show the sweep", severity="error")

