"""Running a trial into the store: the one place that ties the loop's events to their record.

The CLI, the TUI's executors and sweeps all run trials through `TrialRun`, so a trial is stored
the same way whoever started it.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import suppress

from engine.config.groups import Config
from engine.errors import StoreError
from engine.events import Event, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.store import Store
from engine.store.liveness import HEARTBEAT_SECONDS
from engine.tasks.base import TaskData
from engine.training.environment import environment
from engine.training.loop import Setup, train


class TrialRun:
    """Create a trial in the store now (or take one queued earlier, by `trial_id`); iterate to train
    it, recording every event as it comes.

    If iteration stops early (the consumer breaks out, or an exception or Ctrl+C unwinds it), the
    trial is recorded as cancelled, so the store never keeps a trial running that nobody runs.
    """

    def __init__(self, store: Store, config: Config, *, cancel: threading.Event | None = None,
                 data: TaskData | None = None, setup: Setup | None = None,
                 sweep_id: int | None = None, trial_id: int | None = None) -> None:
        self.store = store
        self.config = config
        self.cancel = cancel or threading.Event()
        self.data = data
        self.setup = setup
        self.trial_id = trial_id if trial_id is not None else store.create_trial(config, sweep_id=sweep_id)
        self.finished: TrialFinished | None = None

    def __iter__(self) -> Iterator[Event]:
        beating = threading.Event()
        try:
            for event in train(self.config, self.cancel, self.data, self.setup):
                if isinstance(event, TrialStarted):
                    self.store.start_trial(self.trial_id, event, environment(event.device))
                    _start_heartbeat(self.store, self.trial_id, beating)
                else:
                    self.store.record(self.trial_id, event)
                if isinstance(event, TrialFinished):
                    self.finished = event
                yield event
        finally:
            beating.set()
            if self.finished is None:
                self.store.mark_finished(self.trial_id, TrialState.CANCELLED,
                                         "stopped before the trial finished (its runner was interrupted)")

    def stop(self) -> None:
        """Ask the loop to end within one batch; the trial ends as cancelled."""
        self.cancel.set()


def _start_heartbeat(store: Store, trial_id: int, done: threading.Event) -> None:
    """Renew the trial's heartbeat every few seconds until `done`, from a thread of its own, so that
    a long epoch is not taken for a dead trainer by a reader on another host."""
    def beat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            with suppress(StoreError):  # a busy or closed store: the next beat tries again
                store.beat(trial_id)

    threading.Thread(target=beat, daemon=True, name=f"tunedeck-heartbeat-{trial_id}").start()
