"""Running a trial into the store: the one place that ties the loop's events to their record.

The CLI, the TUI's executors and sweeps all run trials through `TrialRun`, so a trial is stored
the same way whoever started it.
"""
from __future__ import annotations

import _thread
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

from engine.config.groups import Config
from engine.errors import StoreError
from engine.events import Event, TrialFinished, TrialStarted
from engine.execution.checkpoints import CheckpointFiles, CheckpointUnusable, remove_checkpoint, resume_point
from engine.states import TrialState
from engine.store import Store
from engine.store.liveness import HEARTBEAT_SECONDS
from engine.tasks.base import TaskData
from engine.training.checkpoint import LAST, Checkpointer, Write
from engine.training.device import gpu_facts, peak_memory_facts, reset_peak_memory
from engine.training.environment import environment
from engine.training.loop import Setup, train

# Trains the trial somewhere else and yields its events: given the run (its config, cancel signal, store and
# checkpoint writer) and the checkpoint payload to resume from (engine.execution.ray_executor).
Source = Callable[["TrialRun", "dict[str, Any] | None"], Iterator[Event]]


class TrialRun:
    """Create a trial in the store now (or take one queued earlier, by `trial_id`); iterate to train
    it, recording every event as it comes, and its checkpoints as `run.checkpoint` asks.

    A queued trial that ran before (interrupted or cancelled, then queued again to resume) goes on
    from its newest usable `last` checkpoint as the same trial: what it logged after that epoch is
    forgotten and logged again, and its run info lists where it resumed. Without a usable checkpoint
    it starts over, and its note says why.

    `setup` is the trial built earlier (`prepare`); `failed` is the end of a build that failed earlier, so
    that the user's code that failed is not run twice. `claim` records the start instead of this process
    (`store.start_trial`): a trainer child asks the parent that the user sees, so that the trial is held by it.

    If iteration stops early (the consumer breaks out, or an exception or Ctrl+C unwinds it), the
    trial is recorded as cancelled, so the store never keeps a trial running that nobody runs.
    """

    def __init__(self, store: Store, config: Config, *, cancel: threading.Event | None = None,
                 data: TaskData | None = None, setup: Setup | None = None, failed: TrialFinished | None = None,
                 sweep_id: int | None = None, trial_id: int | None = None,
                 claim: Callable[[TrialStarted, dict[str, Any]], None] | None = None,
                 source: Source | None = None) -> None:
        self.store = store
        self.config = config
        self.cancel = cancel or threading.Event()
        self.data = data
        self.setup = setup
        self.failed = failed  # a prepare that failed already: recorded as it is, not tried again
        self.claim = claim
        self.source = source  # the loop runs elsewhere (a Ray actor) and its events come from there
        self.trial_id = trial_id if trial_id is not None else store.create_trial(config, sweep_id=sweep_id)
        self.finished: TrialFinished | None = None
        self.resumed_from: int | None = None
        self._earlier_resumes: list[dict] = []

    def _resume_point(self) -> dict[str, Any] | None:
        """The checkpoint to go on from, if this trial ran before; its later epochs are forgotten."""
        record = self.store.trial(self.trial_id)
        if record.epochs_run == 0 and not self.store.checkpoints(self.trial_id):
            return None
        self._earlier_resumes = list(record.run_info.get("resumed", []))
        try:
            payload, point, passed = resume_point(self.store, self.trial_id)
        except CheckpointUnusable as exc:
            self.store.rewind(self.trial_id, 0, 0)
            self.store.set_note(self.trial_id, f"started over: {exc}")
            return None
        self.store.rewind(self.trial_id, point.epoch, int(payload["step"]))
        if passed:
            self.store.set_note(self.trial_id, f"resumed from an older checkpoint: {'; '.join(passed)}")
        self.resumed_from = point.epoch
        return payload

    def _checkpointer(self) -> Checkpointer | None:
        write = self.checkpoint_writer()
        return None if write is None else Checkpointer(self.config.run.checkpoint, self.config.run.checkpoint_every,
                                                       write)

    def checkpoint_writer(self) -> Write | None:
        """Where this trial's checkpoint payloads go: files beside the store, recorded in it (None: run.checkpoint
        is none). A remote trainer's payloads come back to this writer, so the head can always read them."""
        if self.config.run.checkpoint == "none":
            return None
        files = CheckpointFiles(self.store, self.trial_id, warn=lambda text: print(
            f"tunedeck: trial {self.trial_id}: {text}", file=sys.stderr, flush=True))
        return files.write

    def __iter__(self) -> Iterator[Event]:
        beating = threading.Event()
        try:
            resume = self._resume_point()
            events = (iter([self.failed]) if self.failed is not None else self.source(self, resume)
                      if self.source is not None else
                      train(self.config, self.cancel, self.data, self.setup, self._checkpointer(), resume))
            device = ""  # the trial's, once it started: its GPU's peak memory is noted when it ends
            for event in events:
                if isinstance(event, TrialStarted):
                    device = event.device if self.source is None else ""  # a remote trainer's GPU is not ours
                    env = {**environment(event.device, self.config), **gpu_facts(device)}
                    reset_peak_memory(device)
                    if self.claim is not None:
                        self.claim(event, env)
                    else:
                        self.store.start_trial(self.trial_id, event, env)
                    if self.resumed_from is not None:
                        self.store.note_resume(self.trial_id, self.resumed_from, self._earlier_resumes)
                    _start_heartbeat(self.store, self.trial_id, beating)
                else:
                    peak = peak_memory_facts(device) if isinstance(event, TrialFinished) else {}
                    if peak:
                        self.store.note_run_info(self.trial_id, peak)
                    self.store.record(self.trial_id, event)
                if isinstance(event, TrialFinished):
                    self.finished = event
                yield event
        finally:
            beating.set()
            if self.finished is None:
                self.store.mark_finished(self.trial_id, TrialState.CANCELLED,
                                         "stopped before the trial finished (its runner was interrupted)")
            elif not self.finished.state.is_lost:  # it cannot be resumed: its `last` files go
                for record in self.store.checkpoints(self.trial_id, LAST):
                    remove_checkpoint(self.store, record)

    def stop(self) -> None:
        """Ask the loop to end within one batch; the trial ends as cancelled."""
        self.cancel.set()


def _start_heartbeat(store: Store, trial_id: int, done: threading.Event) -> None:
    """Renew the trial's heartbeat every few seconds until `done`, from a thread of its own, so that
    a long epoch is not taken for a dead trainer by a reader on another host.

    Started with `_thread`, which does not wait for the new thread to come up as `threading.Thread.start`
    does: beside a training loop that holds the GIL, on a busy box, that wait was timed at 1-3 ms a trial."""
    def beat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            with suppress(StoreError):  # a busy or closed store: the next beat tries again
                store.beat(trial_id)

    _thread.start_new_thread(beat, ())
