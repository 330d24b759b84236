"""The app-wide services: the store, the one trial pool, its event inbox, the live sweep, the last search.

The app builds them once and hands them to the screens that need them, so that a screen depends on
this small module and never on the app (no import cycle, no reaching into the app's internals).
Every trial of the process, started by hand or by a sweep, trains through `pool`, within one
budget of cores; its events land in `inbox`, which the cockpit drains on a timer.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import TunedeckError
from engine.execution.executors import Executor
from engine.execution.pool import MANUAL, EventInbox, TrialPool
from engine.store import Store
from engine.sweeps.control import SweepControl

QUIT_REASON = "stopped: tunedeck quit"


class Services:
    def __init__(self, store: Store, executor: Executor, *, parallel: int = 1, search: dict[str, Any] | None = None,
                 threads: int | None = None, on_sweep_trial: Callable[[int], None] | None = None) -> None:
        """`on_sweep_trial` is called from a pool thread after each sweep trial; it must not block on the UI."""
        self.store = store
        self.inbox = EventInbox()
        self.pool = TrialPool(store, executor, parallel=max(1, parallel), sink=self.inbox.put, threads=threads)
        self.sweeps = SweepControl(store, self.pool, on_trial=on_sweep_trial)
        self.search = search  # the [search] table the Sweep dialog starts from: the preset's, then the last used
        self.closing = False  # set once the app quits: no new trial may start

    # --- questions the cockpit and the quit dialog ask --------------------------------------------

    @property
    def busy(self) -> bool:
        """Something trains or waits, or a sweep is still live: quitting must ask first."""
        return self.pool.busy or self.sweeps.active

    @property
    def idle(self) -> bool:
        """Every trial and the sweep have recorded how they ended: safe to exit."""
        return not self.pool.busy and not self.sweeps.busy

    def running_count(self) -> int:
        return len(self.pool.running_ids())

    def waiting_count(self) -> int:
        """Trials started by hand that wait for a slot (a sweep keeps its own waiting to itself)."""
        return len(self.pool.waiting_ids(MANUAL))

    def sweep_in_view(self, trial_id: int | None) -> int | None:
        """The sweep a sweep key means: the highlighted trial's, else the one started here, else the newest."""
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

    # --- ending ---------------------------------------------------------------------------------

    def stop_all(self, reason: str = QUIT_REASON) -> None:
        """Stop the sweep first (so it starts nothing new), then cancel every trial; returns at once."""
        self.closing = True
        self.sweeps.stop(reason)
        self.pool.cancel_all(reason)

    def shutdown(self, reason: str = QUIT_REASON) -> None:
        """At exit: stop everything, wait briefly for the trials to record their end, stop the executor."""
        self.closing = True
        self.sweeps.stop(reason)
        self.pool.shutdown(reason)
        self.sweeps.wait(5.0)
