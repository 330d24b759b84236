"""The app-wide services: the store, its follower, the supervisor client, the last search.

The app builds them once and hands them to the screens that need them, so that a screen depends on
this small module and never on the app. The cockpit trains nothing itself: every trial and sweep it
starts is queued for the store's supervisor (engine/supervisor), which runs it in a process of its
own, so training goes on when the cockpit quits or its terminal dies. What the cockpit shows comes
from following the store (`follower`), so trials started by any process appear and move alike.
"""
from __future__ import annotations

from typing import Any

from engine.errors import TunedeckError
from engine.states import TrialState
from engine.store import Store, SweepRecord
from engine.store.recovery import SUPERVISOR
from engine.supervisor.client import SupervisorClient
from engine.tables.follower import StoreFollower


class Services:
    def __init__(self, store: Store, client: SupervisorClient, *, search: dict[str, Any] | None = None) -> None:
        self.store = store
        self.client = client
        self.follower = StoreFollower(store)
        self.search = search  # the [search] table the Sweep dialog starts from: the preset's, then the last used
        self.last_sweep: int | None = None  # the sweep started or resumed here most recently
        self.closing = False  # set once the app quits: no new trial may start
        self._parallel: int | None = None

    # --- what runs ------------------------------------------------------------------------------

    def running(self) -> list[int]:
        """Every trial training now, whoever runs it."""
        return self.follower.in_state(TrialState.RUNNING)

    def queued(self) -> list[int]:
        """Trials waiting for the supervisor (a sweep's next points are not stored until their turn)."""
        return [t for t in self.follower.in_state(TrialState.QUEUED) if self._supervised(t)]

    def supervised_running(self) -> list[int]:
        return [t for t in self.running() if self._supervised(t)]

    def _supervised(self, trial_id: int) -> bool:
        record = self.follower.get(trial_id)
        return record is not None and record.owner == SUPERVISOR

    @property
    def parallel(self) -> int:
        """How many queued trials the supervisor trains at once (the user's choice, kept by the store)."""
        if self._parallel is None:
            row = self.store.supervisor_row()
            self._parallel = row.parallel if row is not None else 1
        return self._parallel

    def forget_parallel(self) -> None:
        """Read it again next time (another client may have changed it)."""
        self._parallel = None

    def set_parallel(self, parallel: int) -> None:
        self.client.set_parallel(max(1, parallel))
        self._parallel = max(1, parallel)

    def active_sweeps(self) -> list[SweepRecord]:
        return [s for s in self.store.sweeps() if s.state.is_active]

    def sweep_in_view(self, trial_id: int | None) -> int | None:
        """The sweep a sweep key means: the highlighted trial's, else the one started here, else the
        newest running one, else the newest."""
        if trial_id is not None:
            record = self.follower.get(trial_id)
            if record is None:
                try:
                    record = self.store.trial(trial_id)
                except TunedeckError:
                    record = None
            if record is not None and record.sweep_id is not None:
                return record.sweep_id
        if self.last_sweep is not None:
            return self.last_sweep
        sweeps = self.store.sweeps()
        active = [s.id for s in sweeps if s.state.is_active]
        if active:
            return active[-1]
        return sweeps[-1].id if sweeps else None

    def resume_queued_work(self) -> None:
        """Work queued while no supervisor ran (it died, or ended idle) goes on: its supervisor starts.
        Called once the cockpit is on screen, so that its start-up stays off the first frame's path."""
        if self.store.read_only:
            return  # a supervisor could write nothing here
        if self.store.unclaimed_trials() or self.store.unclaimed_sweeps():
            try:
                self.client.ensure()
            except TunedeckError:
                pass  # the status line shows no supervisor; the next ctrl+r tries again and says why

    # --- ending ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """The supervisor trains or has queued something, or a sweep is live: quitting asks first."""
        return bool(self.supervised_running() or self.queued() or self.active_sweeps())
