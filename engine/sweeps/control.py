"""The cockpit's one live sweep: started from the Sweep dialog, run beside the manual trials.

The sweep trains through the same trial pool as the trials started by hand (so both share the
cores, and a manual trial can run next to it); its events reach the pool's sink like any other
trial's, so they draw in the plot and the table. This class keeps the sweep started here and
answers the cockpit's questions about it; its threads never touch the UI.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from engine.config.groups import Config
from engine.events import TrialFinished
from engine.execution.pool import TrialPool
from engine.states import SweepState
from engine.store.trials import Store
from engine.sweeps.spec import SearchSpec
from engine.sweeps.sweep import Sweep, SweepError, SweepProgress


class SweepControl:
    def __init__(self, store: Store, pool: TrialPool, on_trial: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.pool = pool
        self.on_trial = on_trial  # called from a pool thread after each trial; must hand over to the UI
        self.sweep: Sweep | None = None
        self.last_id: int | None = None  # the sweep started here most recently, also once it ended
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.sweep is not None and self.sweep.state.is_active

    @property
    def busy(self) -> bool:
        """The sweep's thread has not ended yet (it may still be recording how the sweep ended)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, base: Config, spec: SearchSpec) -> Sweep:
        """Store the sweep and start it in the background; refused while another one runs."""
        self._refuse_if_active()
        return self._launch(Sweep(self.store, base, spec, self.pool, on_trial=self._finished))

    def resume(self, sweep_id: int) -> Sweep:
        """Go on with a stopped or interrupted sweep (SweepError says why not)."""
        self._refuse_if_active()
        return self._launch(Sweep.resumed(self.store, sweep_id, self.pool, on_trial=self._finished))

    def resumable(self, preferred: int | None = None) -> int | None:
        """The sweep that R resumes: `preferred` if it can be resumed, else the newest that can."""
        candidates = [s.id for s in self.store.sweeps() if s.state.can_resume]
        if preferred in candidates:
            return preferred
        return candidates[-1] if candidates else None

    def _refuse_if_active(self) -> None:
        if self.sweep is not None and self.sweep.state.is_active:
            raise SweepError(f"sweep {self.sweep.id} is already running; stop it first")

    def _launch(self, sweep: Sweep) -> Sweep:
        self.sweep = sweep
        self.last_id = sweep.id
        self._thread = sweep.start()
        return sweep

    def _finished(self, trial_id: int, finished: TrialFinished, updates: dict) -> None:
        if self.on_trial is not None:
            self.on_trial(trial_id)

    def toggle_pause(self) -> SweepState | None:
        """Pause or resume; the new state, or None with no sweep running."""
        if not self.active:
            return None
        assert self.sweep is not None
        if self.sweep.paused:
            self.sweep.resume()
        else:
            self.sweep.pause()
        return self.sweep.state

    def stop(self, reason: str = "stopped by the user") -> bool:
        if not self.active:
            return False
        assert self.sweep is not None
        self.sweep.stop(reason)
        return True

    def cancel_trial(self, trial_id: int) -> bool:
        """Cancel one trial of the live sweep; the sweep goes on. False: not one of its running trials."""
        return self.sweep is not None and self.sweep.cancel_trial(trial_id)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the sweep's thread has recorded how the sweep ended; False on timeout."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.busy

    @property
    def running_ids(self) -> list[int]:
        return self.sweep.running_ids if self.sweep is not None else []

    def progress(self) -> SweepProgress | None:
        return self.sweep.progress() if self.sweep is not None else None
