"""A sweep: sample configs from a search, train them N at a time through an executor, record it all.

The supervising side (the CLI's main thread, or the TUI) owns the Optuna study; each worker thread
asks it for a point, trains that trial through the executor (a warm child process by default),
reports each epoch to the pruner and tells the result. Every trial is an ordinary trial in the
store tagged with the sweep's id; the sweep itself (name, spec, base config, state) is a row of
its own. A trial that fails is told to Optuna as failed and the sweep goes on.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from engine.config.groups import Config
from engine.errors import ConfigError, TunedeckError
from engine.events import EpochEnded, Event, StopSignal, Summary, TrialFinished, TrialState
from engine.execution.executors import Executor, Sink
from engine.sweeps.sampler import PastTrial, Search, epoch_metric
from engine.sweeps.spec import SearchSpec, parse_search
from engine.store import Store
from engine.store.sweeps import COMPLETED, PAUSED, RUNNING, STOPPED, SweepRecord

OnTrial = Callable[[int, TrialFinished, dict], None]
RERUN = (TrialState.CANCELLED, TrialState.INTERRUPTED, TrialState.QUEUED, TrialState.RUNNING)


class SweepError(TunedeckError):
    """A sweep cannot do what was asked (resume a completed one, say)."""


def _past_trials(store: Store, sweep_id: int, spec: SearchSpec) -> list[tuple[int, PastTrial]]:
    """A sweep's trials that ran to an end, as the resumed study replays them."""
    from engine.sweeps.results import best_value, config_value, epoch_values

    trials = [t for t in store.trials(sweep_id=sweep_id) if t.state not in RERUN]
    epochs = epoch_values(store, [t.id for t in trials], spec.metric)
    past = []
    for t in trials:
        updates = {key: config_value(t.config, key) for key in spec.keys()}
        values = epochs.get(t.id, {})
        past.append((t.id, PastTrial(updates, t.state, best_value(values, spec.direction), values)))
    return past


@dataclass(frozen=True)
class SweepProgress:
    state: str
    planned: int
    done: int
    running: int
    completed: int
    pruned: int
    failed: int
    cancelled: int
    best_value: float | None
    best_trial: int | None
    eta_seconds: float | None


class Sweep:
    """Build it (the sweep is stored at once), then `run()` to block or `start()` for a thread."""

    def __init__(self, store: Store, base: Config, spec: SearchSpec, executor: Executor, *,
                 sink: Sink | None = None, on_trial: OnTrial | None = None, threads: int | None = None,
                 resuming: SweepRecord | None = None) -> None:
        self.store = store
        self.base = base
        self.spec = spec.with_seed()
        self.executor = executor
        self.threads = threads
        self._sink = sink
        self._on_trial = on_trial
        past = _past_trials(store, resuming.id, self.spec) if resuming else []
        self.search = Search(self.spec, [p for _, p in past])
        if resuming is None:
            self.name = self.spec.name or f"{base.name or base.task.name}-{self.spec.strategy}"
            self.id = store.create_sweep(self.name, self.spec.to_dict(), base.to_dict(), self.spec.planned)
        else:
            self.name, self.id = resuming.name, resuming.id
            store.reclaim_sweep(self.id)
        self._cond = threading.Condition()
        self._paused = False
        self._stopping: str | None = None
        self._running: dict[int, StopSignal] = {}
        self._number: dict[int, int] = {}  # store trial id -> Optuna trial number
        self._best_epoch_value: dict[int, float] = {}
        self._durations: list[float] = []
        self._counts = {"completed": 0, "pruned": 0, "failed": 0, "cancelled": 0}
        self._refused = 0  # sampled combinations that the knobs' rules refused (no trial was stored)
        self.best: tuple[int, float] | None = None  # (trial id, objective)
        self.values: dict[int, float] = {}  # trial id -> objective, for trials that completed
        self.state = RUNNING
        self._started = time.monotonic()
        self._threads: list[threading.Thread] = []
        for trial_id, p in past:
            self._count(trial_id, p.state, 0.0, p.value)
        self._durations.clear()  # the ETA is this run's pace, not the stored trials'

    @classmethod
    def resumed(cls, store: Store, sweep_id: int, executor: Executor, *, parallel: int | None = None,
               sink: Sink | None = None, on_trial: OnTrial | None = None,
               threads: int | None = None) -> "Sweep":
        """Go on with a stopped or interrupted sweep: its finished trials count, its cancelled and
        interrupted ones are run again, up to the planned number. The same sweep id, base and seed."""
        record = store.sweep(sweep_id)
        if record.state == COMPLETED:
            raise SweepError(f"sweep {sweep_id} ({record.name}) has already completed: {record.reason}")
        if record.state in (RUNNING, PAUSED):
            raise SweepError(f"sweep {sweep_id} ({record.name}) is still {record.state} in process {record.pid}; "
                             "stop it there first")
        try:
            base = Config.from_dict(record.base)
            spec = parse_search(record.spec, base, overrides={"parallel": parallel} if parallel is not None else None)
        except ConfigError as exc:
            if exc.key == "search.parallel":
                raise ConfigError(exc.rule, key="--parallel", value=exc.value) from None
            raise SweepError(f"sweep {sweep_id} was stored by another version of tunedeck and cannot be "
                             f"resumed: {exc}") from None
        return cls(store, base, spec, executor, sink=sink, on_trial=on_trial, threads=threads, resuming=record)

    # --- control -------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run in a background thread (the TUI's way); returns it."""
        thread = threading.Thread(target=self.run, name=f"tunedeck-sweep-{self.id}", daemon=True)
        thread.start()
        return thread

    def run(self) -> str:
        """Train the sweep to its end; returns the final state. Ctrl+C stops it cleanly and re-raises."""
        self._threads = [threading.Thread(target=self._work, name=f"tunedeck-sweep-{self.id}-{i}", daemon=True)
                         for i in range(self.spec.parallel)]
        for t in self._threads:
            t.start()
        try:
            for t in self._threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            # The first Ctrl+C stops the sweep and waits for the running trials to end within a batch;
            # a second one (here, or after the caller's handler stopped it: `tunedeck sweep`) stops waiting.
            waiting = self._stopping is None
            self.stop("stopped by Ctrl+C")
            try:
                for t in self._threads if waiting else ():
                    t.join()
            except KeyboardInterrupt:
                pass
            self._finish()
            raise
        return self._finish()

    def pause(self) -> None:
        """Start no new trial; those running finish."""
        with self._cond:
            if self._stopping or self.state != RUNNING:
                return
            self._paused = True
            self.state = PAUSED
        self.store.set_sweep_state(self.id, PAUSED, "paused by the user")

    def resume(self) -> None:
        with self._cond:
            if not self._paused or self._stopping:
                return
            self._paused = False
            self.state = RUNNING
            self._cond.notify_all()
        self.store.set_sweep_state(self.id, RUNNING)

    def stop(self, reason: str = "stopped by the user") -> None:
        """Cancel the running trials (within a batch) and start no more."""
        with self._cond:
            if self._stopping is None:
                self._stopping = reason
            signals = list(self._running.values())
            self._cond.notify_all()
        for signal in signals:
            signal.stop(TrialState.CANCELLED, f"cancelled with its sweep ({reason})")

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def running_ids(self) -> list[int]:
        with self._cond:
            return list(self._running)

    def progress(self) -> SweepProgress:
        with self._cond:
            done = sum(self._counts.values()) - self._counts["cancelled"]
            eta = None
            if self._durations and self.state in (RUNNING, PAUSED):
                mean = sum(self._durations) / len(self._durations)
                eta = (self.spec.planned - done) * mean / max(1, self.spec.parallel)
            best = self.best
            return SweepProgress(self.state, self.spec.planned, done, len(self._running), self._counts["completed"],
                                 self._counts["pruned"], self._counts["failed"], self._counts["cancelled"],
                                 best[1] if best else None,
                                 best[0] if best else None, eta)

    # --- workers -------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._paused and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                asked = self.search.ask()
                if asked is None:
                    return
            self._train(asked.number, asked.updates)

    def _train(self, number: int, updates: dict) -> None:
        try:
            config = self.base.with_updates({**updates, "name": f"{self.name} #{number + 1}"})
        except ConfigError as exc:  # a combination the knobs' own rules refuse: no trial to store
            self.search.tell(number, TrialState.FAILED, None)
            with self._cond:
                self._refused += 1
            if self._on_trial:
                self._on_trial(-1, TrialFinished(TrialState.FAILED, f"not run: {exc}", Summary(), 0.0), updates)
            return
        signal = StopSignal()
        with self._cond:
            trial_id = self.store.create_trial(config, sweep_id=self.id)
            if self._stopping:
                self.store.mark_finished(trial_id, TrialState.CANCELLED, f"cancelled with its sweep ({self._stopping})")
                self.search.tell(number, TrialState.CANCELLED, None)
                return
            self._running[trial_id] = signal
            self._number[trial_id] = number
        judge = self._judge if self.spec.pruner != "none" else None
        try:
            finished = self.executor.run(self.store.path, trial_id, config, signal, self._deliver,
                                         judge=judge, threads=self.threads)
        except Exception as exc:  # the executor itself broke (not the trial): no point going on
            reason = f"the executor failed: {type(exc).__name__}: {exc}"
            self.store.mark_finished(trial_id, TrialState.FAILED, reason)
            finished = TrialFinished(TrialState.FAILED, reason, Summary(), 0.0)
            self.stop(reason)
        with self._cond:
            self._running.pop(trial_id, None)
            value = self._best_epoch_value.pop(trial_id, None)
        self.search.tell(number, finished.state, value)
        self._count(trial_id, finished.state, finished.seconds, value)
        if self._on_trial:
            self._on_trial(trial_id, finished, updates)

    def _count(self, trial_id: int | None, state: TrialState, seconds: float, value: float | None = None) -> None:
        with self._cond:
            key = ("pruned" if state == TrialState.PRUNED else "completed" if state.has_results
                   else "cancelled" if state == TrialState.CANCELLED else "failed")
            self._counts[key] += 1
            self._durations.append(seconds)
            if trial_id is not None and state.scores and value is not None:
                self.values[trial_id] = value
                if self.best is None or self._better(value, self.best[1]):
                    self.best = (trial_id, value)

    def _better(self, a: float, b: float) -> bool:
        return a < b if self.spec.direction == "minimize" else a > b

    def _deliver(self, trial_id: int, batch: Sequence[Event]) -> None:
        """Track each trial's best epoch value (the objective), then pass the events on."""
        for event in batch:
            if isinstance(event, EpochEnded):
                value = epoch_metric(self.spec.metric, event)
                if value is None:
                    continue
                with self._cond:
                    old = self._best_epoch_value.get(trial_id)
                    if old is None or self._better(value, old):
                        self._best_epoch_value[trial_id] = value
        if self._sink is not None:
            self._sink(trial_id, batch)

    def _judge(self, trial_id: int, event: EpochEnded) -> str | None:
        value = epoch_metric(self.spec.metric, event)
        number = self._number.get(trial_id)
        if value is None or number is None:
            return None
        return self.search.report(number, event.epoch, value)

    def _finish(self) -> str:
        with self._cond:
            planned, done = self.spec.planned, sum(self._counts.values()) - self._counts["cancelled"]
            if self._stopping:
                state, reason = STOPPED, f"{self._stopping} after {done} of {planned} trials"
                if self._counts["cancelled"]:
                    reason += f"; {self._counts['cancelled']} cancelled, run again on resume"
            else:
                state = COMPLETED
                ran = done + self._refused >= planned
                reason = f"all {done} trials ran" if ran else f"the grid was used up after {done} trials"
            if self._refused:
                reason += (f"; {self._refused} sampled combination(s) broke a rule between knobs "
                           "and were not run")
        self.store.set_sweep_state(self.id, state, reason)  # recorded before anyone sees the sweep as over
        with self._cond:
            self.state = state
        return state

    def cancel_trial(self, trial_id: int) -> bool:
        """Cancel one running trial of the sweep (within a batch); the sweep goes on. False: not running."""
        with self._cond:
            signal = self._running.get(trial_id)
        if signal is None:
            return False
        signal.stop(TrialState.CANCELLED, "cancelled by the user; the sweep went on")
        return True
