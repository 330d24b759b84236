"""Executors: where a queued trial's loop runs, behind one blocking call made from a worker thread.

`ThreadExecutor` runs the loop in the calling thread. `ProcessExecutor` hands it to a warm child
process and supervises: a child escapes the GIL that the UI's rendering holds (0.88-0.92 of bare
speed measured against 0.39 for a thread beside a live app), its crash fails one trial and not the
app, and several children train at once. Both deliver the loop's events in batches through `sink`,
never one call per step, and both record the trial in the store the same way (engine.execution.runner).
`FirstReady` puts several one-child process executors behind one, so that a trial never waits for a
trainer that is still starting while another one comes free.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from engine.config.groups import Config
from engine.events import EpochEnded, Event, StopSignal, Summary, TrialFinished
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
                       flush: Callable[[list[Event]], None], judge: Judge | None = None,
                       **run_options: Any) -> TrialFinished:
    """Train a queued trial here, recording it in the store; shared by every executor (`run_options` go to
    TrialRun: the Ray executor's `source` and `claim`, whose loop runs on a cluster node)."""
    from engine.execution.runner import TrialRun
    from engine.store import Store

    batcher = Batcher(flush)
    with Store(store_path) as store:
        run = TrialRun(store, config, cancel=cancel, trial_id=trial_id, **run_options)
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


class FirstReady:
    """Each trial trains on the first trainer that is ready, oldest trial first.

    A process executor binds a trial to the child it takes: with no child idle it starts one, and the
    trial waits out that child's start-up (`import torch`, seconds; over ten on a busy box) even when a
    warm child comes free meanwhile, which then runs the trials queued after it. At parallel 2 that
    left one slot idle for the whole start-up. Here every trainer is an executor of its own (`make()`:
    one that keeps one warm child, a ProcessExecutor), started in the background, and a trial is handed
    to one only once it is ready, the oldest trial (lowest id) first; a trainer is started whenever
    more trials wait than trainers start.
    """

    def __init__(self, make: Callable[[], Any], *, start_timeout: float = 300.0) -> None:
        self._make = make
        self._start_timeout = start_timeout
        self._cond = threading.Condition()
        self._spawning = threading.Lock()
        self._ready: list[Any] = []  # trainers that are warm and idle
        self._trainers: list[Any] = []  # every trainer: idle, busy or starting
        self._starting = 0
        self._tickets = itertools.count()
        self._line: list[tuple[int, int]] = []  # (trial id, ticket) of each trial waiting for a trainer
        self._closed = False

    def prewarm(self, count: int = 1, *, wait: float = 0.0) -> None:
        """Start trainers until `count` are ready or starting; with `wait`, block until they are ready."""
        with self._cond:
            for _ in range(count - len(self._ready) - self._starting):
                self._start()
            if wait > 0:
                self._cond.wait_for(lambda: self._closed or len(self._ready) >= count, wait)

    @property
    def pinned(self) -> dict[int, int | None]:
        """Each live child's pid and the GPU index it is pinned to (None: not pinned)."""
        with self._cond:
            trainers = list(self._trainers)
        return {pid: gpu for t in trainers for pid, gpu in getattr(t, "pinned", {}).items()}

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event,
            sink: Sink, *, judge: Judge | None = None, threads: int | None = None) -> TrialFinished:
        trainer = self._take(trial_id, cancel)
        if trainer is None:
            return _ended_before_start(store_path, trial_id, cancel, sink)
        try:
            return trainer.run(store_path, trial_id, config, cancel, sink, judge=judge, threads=threads)
        finally:
            self._give_back(trainer)

    def shutdown(self) -> None:
        """Stop every trainer, all at once (each child takes a while to wind down)."""
        with self._cond:
            self._closed = True
            trainers, self._trainers, self._ready = self._trainers, [], []
            self._cond.notify_all()
        stopping = [threading.Thread(target=t.shutdown, daemon=True, name="tunedeck-trainer-stop") for t in trainers]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def _take(self, trial_id: int, cancel: threading.Event) -> Any | None:
        """A ready trainer once this trial is the oldest waiting; None if it is cancelled first.

        Oldest by id, not by arrival: the pool starts the trials of one dispatch in order, but their
        threads may come in here in any order."""
        with self._cond:
            if self._closed:
                raise RuntimeError("executor is shut down")
            place = (trial_id, next(self._tickets))
            self._line.append(place)
            try:
                while True:
                    if self._closed:
                        raise RuntimeError("executor is shut down")
                    if self._ready and min(self._line) == place:
                        return self._ready.pop()  # the one that ran last: its caches are warmest
                    if cancel.is_set():
                        return None
                    if len(self._line) > len(self._ready) + self._starting:
                        self._start()
                    self._cond.wait(0.1)  # a cancel is seen within 0.1 s
            finally:
                self._line.remove(place)
                self._cond.notify_all()

    def _give_back(self, trainer: Any) -> None:
        alive = bool(getattr(trainer, "pinned", True))  # a child that died took the trainer with it
        with self._cond:
            keep = alive and not self._closed
            if keep:
                self._ready.append(trainer)
            elif trainer in self._trainers:
                self._trainers.remove(trainer)
            self._cond.notify_all()
        if not keep:
            trainer.shutdown()

    def _start(self) -> None:
        """Called with the lock held."""
        trainer = self._make()
        self._trainers.append(trainer)
        self._starting += 1
        threading.Thread(target=self._warm, args=(trainer,), daemon=True, name="tunedeck-trainer-start").start()

    def _warm(self, trainer: Any) -> None:
        try:
            # One spawn at a time: a process executor sets os.environ around a spawn (the GPU it pins
            # its child to), which two spawns at once would mix up. The spawn is done once the trainer
            # has a pid; its import of torch is waited for outside the lock.
            warming = threading.Thread(target=trainer.prewarm, args=(1,), kwargs={"wait": self._start_timeout},
                                       daemon=True, name="tunedeck-trainer-warm")
            with self._spawning:
                warming.start()
                while warming.is_alive() and not getattr(trainer, "pinned", True):
                    time.sleep(0.002)
            warming.join()
        finally:
            with self._cond:
                self._starting -= 1
                if not self._closed:
                    self._ready.append(trainer)
                self._cond.notify_all()


def _ended_before_start(store_path: Path, trial_id: int, cancel: threading.Event, sink: Sink) -> TrialFinished:
    """A trial stopped while it waited for a trainer: recorded as its stop signal says (never pruned: it
    was not judged), and reported like any other end."""
    from engine.store import Store

    state = cancel.state if isinstance(cancel, StopSignal) else TrialState.CANCELLED
    reason = (cancel.reason if isinstance(cancel, StopSignal) else None) or "cancelled before it started"
    if state is TrialState.PRUNED:
        state = TrialState.CANCELLED
    with Store(store_path) as store:
        store.mark_finished(trial_id, state, reason)
    finished = TrialFinished(state, reason, Summary(), 0.0)
    sink(trial_id, [finished])
    return finished
