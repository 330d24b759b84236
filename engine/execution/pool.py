"""The trial pool: every trial of a process, started by hand or by a sweep, trains through here.

A trial is submitted to a *lane* (`manual` for trials started by hand, one lane per sweep), and a
lane runs at most its `parallel` trials at once; the pool starts one worker thread per running
trial, which blocks in the executor (a warm child process by default) until the trial ends. All
lanes share one budget of cores: while several trials may run at once, each gets
`cores // slots` torch threads, so together they never ask for more than the machine has.

Whatever happens in a trial's executor, the trial ends: an exception there is recorded as the
trial `failed` with its message, and its `on_done` is still called. A trial is stored as queued
the moment it is submitted, so the table shows it and a restart does not lose it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engine.config.groups import Config
from engine.events import Event, StopSignal, Summary, TrialFinished
from engine.execution.executors import Executor, Judge, Sink
from engine.execution.placement import threads_per_trial
from engine.states import TrialState
from engine.store.trials import Store

MANUAL = "manual"
# Called from the trial's worker thread once it has ended, however it ended; `broke` says that the
# executor itself raised (the trial is then `failed` with the exception's message).
OnDone = Callable[[int, TrialFinished, bool], None]


@dataclass
class _Job:
    trial_id: int
    config: Config
    lane: str
    judge: Judge | None = None
    on_done: OnDone | None = None
    observe: Sink | None = None
    signal: StopSignal = field(default_factory=StopSignal)


class TrialPool:
    """Queues trials per lane and trains them through one executor, within one budget of cores.

    `sink` receives every trial's events in batches (from worker threads); `threads` fixes torch's
    threads per trial instead of dividing the cores among the slots.
    """

    def __init__(self, store: Store, executor: Executor, *, parallel: int = 1, sink: Sink | None = None,
                 threads: int | None = None, cores: int | None = None) -> None:
        self.store = store
        self.executor = executor
        self._sink = sink
        self._fixed_threads = threads
        self._cores = cores
        self._lock = threading.Condition()
        self._limits: dict[str, int] = {MANUAL: max(0, parallel)}
        self._waiting: list[_Job] = []
        self._running: dict[int, _Job] = {}
        self._workers: set[threading.Thread] = set()
        self._closed = False

    # --- lanes and the budget ------------------------------------------------------------------

    @property
    def parallel(self) -> int:
        """How many trials started by hand train at once."""
        with self._lock:
            return self._limits[MANUAL]

    def set_parallel(self, parallel: int, lane: str = MANUAL) -> None:
        """Raise or lower a lane's limit; raised, waiting trials start now; lowered, running ones finish."""
        with self._lock:
            self._limits[lane] = max(0, parallel)
        self._dispatch()

    def open_lane(self, lane: str, parallel: int) -> None:
        """A lane of its own for a client (a sweep), which shares the cores with the others."""
        with self._lock:
            if lane in self._limits:
                raise ValueError(f"lane {lane!r} is already open")
            self._limits[lane] = max(1, parallel)
        self._dispatch()

    def close_lane(self, lane: str) -> None:
        """Give a lane's slots back; trials still in it (waiting, or running after a second Ctrl+C) are cancelled."""
        self.cancel_lane(lane, "cancelled: its sweep ended")
        with self._lock:
            if lane != MANUAL:
                self._limits.pop(lane, None)

    @property
    def slots(self) -> int:
        """Trials that may train at once, all lanes together."""
        with self._lock:
            return sum(self._limits.values())

    @property
    def threads(self) -> int | None:
        """torch threads for each trial: the cores divided among the slots; None (the trainer chooses
        by measurement) while only one trial may run."""
        if self._fixed_threads is not None:
            return self._fixed_threads
        slots = self.slots
        return threads_per_trial(slots, self._cores) if slots > 1 else None

    def warm(self, count: int) -> None:
        """Have `count` trainers ready or starting now, before the trials that will need them exist (a
        sweep calls this before it imports and builds its sampler); an executor without warm trainers
        ignores it."""
        prewarm = getattr(self.executor, "prewarm", None)
        if callable(prewarm):
            prewarm(count)

    # --- trials ---------------------------------------------------------------------------------

    def submit(self, config: Config, *, lane: str = MANUAL, trial_id: int | None = None,
               judge: Judge | None = None, on_done: OnDone | None = None, observe: Sink | None = None) -> int:
        """Queue a trial (stored as queued now, unless `trial_id` names one stored already); its id.

        `judge` is asked after each epoch whether to prune; `observe` sees its event batches before
        the pool's sink does; `on_done` is called once it has ended.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the trial pool is shut down")
            if lane not in self._limits:
                raise ValueError(f"no lane {lane!r}: open it first")
        if trial_id is None:
            trial_id = self.store.create_trial(config)
        with self._lock:
            self._waiting.append(_Job(trial_id, config, lane, judge, on_done, observe))
        self._dispatch()
        return trial_id

    def cancel(self, trial_id: int, reason: str | None = None, state: TrialState = TrialState.CANCELLED) -> bool:
        """Stop a running trial within one batch, or take a waiting one out of line. False: neither."""
        with self._lock:
            job = self._running.get(trial_id)
            if job is not None:
                job.signal.stop(state, reason)
                return True
            job = next((j for j in self._waiting if j.trial_id == trial_id), None)
            if job is None:
                return False
            self._waiting.remove(job)
        self._end_unstarted(job, reason or "cancelled before it started", state)
        return True

    def cancel_lane(self, lane: str | None, reason: str | None = None,
                    state: TrialState = TrialState.CANCELLED) -> None:
        """Cancel every waiting and running trial of one lane (None: of every lane)."""
        for trial_id in self.waiting_ids(lane) + self.running_ids(lane):
            self.cancel(trial_id, reason, state)

    def cancel_all(self, reason: str | None = None, state: TrialState = TrialState.CANCELLED) -> None:
        self.cancel_lane(None, reason, state)

    def waiting_ids(self, lane: str | None = MANUAL) -> list[int]:
        """Trials queued in a lane (None: in any), oldest first."""
        with self._lock:
            return [j.trial_id for j in self._waiting if lane is None or j.lane == lane]

    def running_ids(self, lane: str | None = None) -> list[int]:
        """Trials training now in a lane (None: in any)."""
        with self._lock:
            return [t for t, j in self._running.items() if lane is None or j.lane == lane]

    @property
    def busy(self) -> bool:
        """Some trial waits or trains, or a worker is still recording how its trial ended."""
        with self._lock:
            return not self._idle()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no trial waits or trains; False on timeout."""
        with self._lock:
            return self._lock.wait_for(self._idle, timeout)

    def _idle(self) -> bool:
        """Called with the lock held."""
        return not (self._waiting or self._running or self._workers)

    def shutdown(self, reason: str = "stopped: tunedeck quit", *, wait: float = 2.0,
                 state: TrialState = TrialState.CANCELLED) -> None:
        """Cancel everything (recorded in `state`), wait up to `wait` seconds for the trials to record how
        they ended (each stops within a batch), then stop the executor, whose children are killed if
        they still run."""
        with self._lock:
            self._closed = True
        self.cancel_all(reason, state)
        if wait > 0:
            self.wait_idle(wait)
        self.executor.shutdown()

    # --- workers --------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start a worker for each waiting trial whose lane has a free slot, oldest first."""
        with self._lock:
            if self._closed:
                return
            busy: dict[str, int] = {}
            for job in self._running.values():
                busy[job.lane] = busy.get(job.lane, 0) + 1
            starting = []
            for job in list(self._waiting):
                if busy.get(job.lane, 0) < self._limits.get(job.lane, 0):
                    busy[job.lane] = busy.get(job.lane, 0) + 1
                    self._waiting.remove(job)
                    self._running[job.trial_id] = job
                    starting.append(job)
            for job in starting:
                worker = threading.Thread(target=self._work, args=(job,), daemon=True,
                                          name=f"tunedeck-trial-{job.trial_id}")
                self._workers.add(worker)
                worker.start()

    def _work(self, job: _Job) -> None:
        broke = False
        try:
            finished = self.executor.run(self.store.path, job.trial_id, job.config, job.signal,
                                         lambda tid, batch: self._deliver(job, batch),
                                         judge=job.judge, threads=self.threads)
        except Exception as exc:  # noqa: BLE001 - whatever broke, the trial must end and say why
            broke = True
            finished = self._fail(job, f"the executor failed: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._running.pop(job.trial_id, None)
        self._dispatch()  # a trial waiting in line takes the freed slot now, not after the bookkeeping below
        try:
            if job.on_done is not None:
                job.on_done(job.trial_id, finished, broke)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())
                self._lock.notify_all()
            self._dispatch()

    def _deliver(self, job: _Job, batch: Sequence[Event]) -> None:
        if job.observe is not None:
            job.observe(job.trial_id, batch)
        if self._sink is not None:
            self._sink(job.trial_id, batch)

    def _fail(self, job: _Job, reason: str) -> TrialFinished:
        self.store.mark_finished(job.trial_id, TrialState.FAILED, reason)
        finished = TrialFinished(TrialState.FAILED, reason, Summary(), 0.0, error=reason)
        self._deliver(job, [finished])
        return finished

    def _end_unstarted(self, job: _Job, reason: str, state: TrialState = TrialState.CANCELLED) -> None:
        if state is TrialState.PRUNED:  # only a trial that ran can be judged
            state = TrialState.CANCELLED
        self.store.mark_finished(job.trial_id, state, reason)
        finished = TrialFinished(state, reason, Summary(), 0.0)
        self._deliver(job, [finished])
        if job.on_done is not None:
            job.on_done(job.trial_id, finished, False)
        with self._lock:
            self._lock.notify_all()


__all__ = ["MANUAL", "OnDone", "TrialPool"]
