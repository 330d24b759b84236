"""A queue of trials run N at a time through an executor, with their events gathered for a UI.

The UI (or a sweep) submits configs; each submitted trial is stored as queued at once, so the
table shows it and a restart does not lose it. Worker threads call `run_next`, which blocks while
one trial trains. The UI drains the gathered events on a timer, in batches.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Sequence

from engine.config.groups import Config
from engine.events import Event, StopSignal, TrialFinished, TrialState
from engine.execution.executors import Executor
from engine.store import Store


class TrialQueue:
    def __init__(self, store: Store, executor: Executor) -> None:
        self.store = store
        self.executor = executor
        self._pending: deque[tuple[int, Config]] = deque()
        self._running: dict[int, StopSignal] = {}
        self._events: queue.Queue[tuple[int, Sequence[Event]]] = queue.Queue()
        self._lock = threading.Lock()
        self.threads: int | None = None  # torch threads per trial while something else trains too (a sweep)

    def submit(self, config: Config) -> int:
        """Store the trial as queued and put it in line; returns its id."""
        trial_id = self.store.create_trial(config)
        with self._lock:
            self._pending.append((trial_id, config))
        return trial_id

    def run_next(self) -> TrialFinished | None:
        """Train the next queued trial to its end (blocking); None when nothing is queued."""
        with self._lock:
            if not self._pending:
                return None
            trial_id, config = self._pending.popleft()
            cancel = StopSignal()
            self._running[trial_id] = cancel
        try:
            return self.executor.run(self.store.path, trial_id, config, cancel, self.deliver, threads=self.threads)
        finally:
            with self._lock:
                self._running.pop(trial_id, None)

    def deliver(self, trial_id: int, batch: Sequence[Event]) -> None:
        """Hand events to whoever drains this queue; a sweep running beside it delivers here too."""
        self._events.put_nowait((trial_id, batch))

    def cancel(self, trial_id: int) -> bool:
        """Stop a running trial within one batch, or take a queued one out of line. False: neither."""
        with self._lock:
            if trial_id in self._running:
                self._running[trial_id].set()
                return True
            for item in self._pending:
                if item[0] == trial_id:
                    self._pending.remove(item)
                    break
            else:
                return False
        self.store.mark_finished(trial_id, TrialState.CANCELLED, "cancelled before it started")
        return True

    def cancel_all(self) -> None:
        with self._lock:
            ids = [t for t, _ in self._pending] + list(self._running)
        for trial_id in ids:
            self.cancel(trial_id)

    def drain(self) -> list[tuple[int, Event]]:
        """Every event gathered since the last drain, oldest first; never blocks."""
        out: list[tuple[int, Event]] = []
        while True:
            try:
                trial_id, batch = self._events.get_nowait()
            except queue.Empty:
                return out
            out.extend((trial_id, event) for event in batch)

    @property
    def pending_ids(self) -> list[int]:
        with self._lock:
            return [t for t, _ in self._pending]

    @property
    def running_ids(self) -> list[int]:
        with self._lock:
            return list(self._running)
