"""Executors: where a queued trial's loop runs, behind one blocking call made from a worker thread.

`ThreadExecutor` runs the loop in the calling thread. `ProcessExecutor` hands it to a warm child
process and supervises: a child escapes the GIL that the UI's rendering holds (0.88-0.92 of bare
speed measured against 0.39 for a thread beside a live app), its crash fails one trial and not the
app, and several children train at once. Both deliver the loop's events in batches through `sink`,
never one call per step, and both record the trial in the store the same way (engine.execution.runner).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from engine.config.groups import Config
from engine.events import EpochEnded, Event, StopSignal, TrialFinished
from engine.states import TrialState

Sink = Callable[[int, Sequence[Event]], None]
# Asked after every epoch of a judged trial, before the next epoch starts: a reason to prune it, or None.
Judge = Callable[[int, EpochEnded], "str | None"]
FLUSH_SECONDS = 0.1


class Executor(Protocol):
    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event,
            sink: Sink, *, judge: Judge | None = None, threads: int | None = None) -> TrialFinished:
        """Train a queued trial to its end; blocks. Events reach `sink` in batches.

        `judge` is asked after each epoch whether to prune (the trial waits for the answer, so a
        pruned trial stops exactly where it was judged); `threads` caps torch's threads for it.
        """
        ...

    def shutdown(self) -> None:
        ...


class Batcher:
    """Collects events and hands them on at most every FLUSH_SECONDS, and at once when a trial ends."""

    def __init__(self, flush: Callable[[list[Event]], None], interval: float = FLUSH_SECONDS) -> None:
        self._flush = flush
        self._interval = interval
        self._pending: list[Event] = []
        self._last = time.monotonic()

    def add(self, event: Event) -> None:
        self._pending.append(event)
        now = time.monotonic()
        if isinstance(event, TrialFinished) or now - self._last >= self._interval:
            self.flush()
            self._last = now

    def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._flush(batch)


def run_in_this_thread(store_path: Path, trial_id: int, config: Config, cancel: threading.Event,
                       flush: Callable[[list[Event]], None], judge: Judge | None = None) -> TrialFinished:
    """Train a queued trial here, recording it in the store; shared by both executors."""
    from engine.execution.runner import TrialRun
    from engine.store import Store

    batcher = Batcher(flush)
    with Store(store_path) as store:
        run = TrialRun(store, config, cancel=cancel, trial_id=trial_id)
        try:
            for event in run:
                batcher.add(event)
                if judge is not None and isinstance(event, EpochEnded) and not cancel.is_set():
                    batcher.flush()  # whoever shows the trial sees the epoch it was judged on
                    reason = ask_judge(judge, trial_id, event)
                    if reason:
                        prune(cancel, reason)
        finally:
            batcher.flush()
    assert run.finished is not None  # TrialRun marks an unfinished trial cancelled and re-raises
    return run.finished


def ask_judge(judge: Judge | None, trial_id: int, event: EpochEnded) -> str | None:
    """The judge's verdict; a judge that breaks lets the trial go on rather than take it down."""
    if judge is None:
        return None
    try:
        return judge(trial_id, event)
    except Exception:  # noqa: BLE001 - pruning is advice; training must not die of it
        return None


def prune(cancel: threading.Event, reason: str) -> None:
    """End the trial as pruned at its next batch (a plain Event can only cancel it)."""
    if isinstance(cancel, StopSignal):
        cancel.stop(TrialState.PRUNED, reason)
    else:
        cancel.set()


class ThreadExecutor:
    """The loop runs in the worker thread itself: no start-up cost, but it shares the GIL with the UI.

    torch's thread count is global to a process, so `threads` is not applied per trial here.
    """

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event,
            sink: Sink, *, judge: Judge | None = None, threads: int | None = None) -> TrialFinished:
        return run_in_this_thread(store_path, trial_id, config, cancel, lambda batch: sink(trial_id, batch), judge)

    def shutdown(self) -> None:
        pass
