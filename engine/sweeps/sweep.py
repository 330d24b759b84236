"""A sweep: sample configs from a search and train them through the trial pool, N at a time.

The supervising side (the CLI's main thread, or the cockpit) owns the Optuna study. The sweep keeps
up to `parallel` of its trials in the pool's lane of its own: whenever one ends, it tells the study
the result and asks it for the next point. Each epoch is reported to the pruner, and a trial waits
for the verdict, so a pruned trial stops exactly where it was judged. Every trial is an ordinary
trial in the store tagged with the sweep's id; the sweep itself (name, spec, base config, state) is
a row of its own. A trial that fails is told to Optuna as failed and the sweep goes on; a trial
whose executor breaks stops the sweep, saying why.
"""
from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.config.groups import Config
from engine.errors import ConfigError, TunedeckError
from engine.events import EpochEnded, Event, Summary, TrialFinished
from engine.execution.pool import TrialPool
from engine.states import SweepState, TrialState
from engine.store.faults import fault_since
from engine.store.liveness import HEARTBEAT_SECONDS
from engine.store.sweeps import SweepRecord
from engine.store.trials import Store
from engine.sweeps.sampler import PastTrial, Search, epoch_metric
from engine.sweeps.spec import SearchSpec, parse_search

# Called after each trial of the sweep has ended (from a pool thread): trial id (-1: a sampled
# combination that was refused before a trial was stored), how it ended, the knobs it was given.
OnTrial = Callable[[int, TrialFinished, dict], None]


class SweepError(TunedeckError):
    """A sweep cannot do what was asked (resume a completed one, say)."""


def _past_trials(store: Store, sweep_id: int, spec: SearchSpec) -> list[tuple[int, PastTrial]]:
    """A sweep's trials that ran to an end, as the resumed study replays them."""
    from engine.sweeps.results import best_value, config_value, epoch_values

    trials = [t for t in store.trials(sweep_id=sweep_id) if t.state.counts_toward_plan]
    epochs = epoch_values(store, [t.id for t in trials], spec.metric)
    past = []
    for t in trials:
        updates = {key: config_value(t.config, key) for key in spec.keys()}
        values = epochs.get(t.id, {})
        past.append((t.id, PastTrial(updates, t.state, best_value(values, spec.direction), values)))
    return past


def outcome(state: TrialState) -> str:
    """Which of a sweep's counts an ended trial adds to: completed, pruned, failed or cancelled (the
    last also for interrupted ones: both run again when the sweep is resumed)."""
    if state == TrialState.PRUNED:
        return "pruned"
    if state.has_results:
        return "completed"
    return "cancelled" if state.is_lost else "failed"


def sweep_name(base: Config, spec: SearchSpec) -> str:
    """The name a sweep gets unless its [search] table names it: the base's name and the strategy."""
    return spec.name or f"{base.name or base.task.name}-{spec.strategy}"


def _carried_trials(store: Store, sweep_id: int, spec: SearchSpec) -> list[tuple[int, dict, dict]]:
    """A sweep's interrupted or cancelled trials that can go on from a checkpoint: (id, knobs, config)."""
    from engine.sweeps.results import config_value

    return [(t.id, {key: config_value(t.config, key) for key in spec.keys()}, t.config)
            for t in store.trials(sweep_id=sweep_id) if t.state.is_lost and store.checkpoints(t.id, "last")]


@dataclass(frozen=True)
class SweepProgress:
    state: SweepState
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

    def __init__(self, store: Store, base: Config, spec: SearchSpec, pool: TrialPool, *,
                 on_trial: OnTrial | None = None, resuming: SweepRecord | None = None) -> None:
        pool.warm(spec.parallel)  # the trainers import torch while Optuna is imported and the study built
        self.store = store
        self.base = base
        self.spec = spec.with_seed()
        self.pool = pool
        self._on_trial = on_trial
        past = _past_trials(store, resuming.id, self.spec) if resuming else []
        carried = _carried_trials(store, resuming.id, self.spec) if resuming else []
        self.search = Search(self.spec, [p for _, p in past], [updates for _, updates, _ in carried])
        self._carried = collections.deque(carried)  # asked first: their points were enqueued first
        if resuming is None:
            self.name = sweep_name(base, self.spec)
            self.id = store.create_sweep(self.name, self.spec.to_dict(), base.to_dict(), self.spec.planned)
        else:
            self.name, self.id = resuming.name, resuming.id
            if not store.reclaim_sweep(self.id):
                raise SweepError(f"sweep {self.id} ({self.name}) was just taken by another process; "
                                 "it runs there (see `tunedeck sweeps`)")
        self.lane = f"sweep-{self.id}"
        self._cond = threading.Condition()
        self._paused = False
        self._stopping: str | None = None
        self._exhausted = False
        self._running: set[int] = set()
        self._number: dict[int, int] = {}  # store trial id -> Optuna trial number
        self._updates: dict[int, dict] = {}
        self._best_epoch_value: dict[int, float] = {}
        self._went_on: set[int] = set()  # carried trials: their epochs before the checkpoint were not observed
        self._durations: list[float] = []
        self._counts = {"completed": 0, "pruned": 0, "failed": 0, "cancelled": 0}
        self._refused = 0  # sampled combinations that the knobs' rules refused (no trial was stored)
        self.best: tuple[int, float] | None = None  # (trial id, objective)
        self.values: dict[int, float] = {}  # trial id -> objective, for trials that completed
        self.state = SweepState.RUNNING
        for trial_id, p in past:
            self._count(trial_id, p.state, 0.0, p.value)
        self._durations.clear()  # the ETA is this run's pace, not the stored trials'

    @classmethod
    def resumed(cls, store: Store, sweep_id: int, pool: TrialPool, *, parallel: int | None = None,
                on_trial: OnTrial | None = None) -> Sweep:
        """Go on with a stopped or interrupted sweep: its finished trials count, its cancelled and
        interrupted ones are run again, up to the planned number. The same sweep id, base and seed."""
        record = store.sweep(sweep_id)
        if record.state == SweepState.COMPLETED:
            raise SweepError(f"sweep {sweep_id} ({record.name}) has already completed: {record.reason}")
        if record.state.is_active and record.pid is not None:
            raise SweepError(f"sweep {sweep_id} ({record.name}) is still {record.state.value} in process "
                             f"{record.pid}; stop it there first")
        try:
            base = Config.from_dict(record.base)
            spec = parse_search(record.spec, base, overrides={"parallel": parallel} if parallel is not None else None)
        except ConfigError as exc:
            if exc.key == "search.parallel":
                raise ConfigError(exc.rule, key="--parallel", value=exc.value) from None
            raise SweepError(f"sweep {sweep_id} was stored by another version of tunedeck and cannot be "
                             f"resumed: {exc}") from None
        return cls(store, base, spec, pool, on_trial=on_trial, resuming=record)

    # --- control -------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run in a background thread (the cockpit's way); returns it."""
        thread = threading.Thread(target=self.run, name=f"tunedeck-sweep-{self.id}", daemon=True)
        thread.start()
        return thread

    def run(self) -> SweepState:
        """Train the sweep to its end; returns the final state. Ctrl+C stops it cleanly and re-raises."""
        self.pool.open_lane(self.lane, self.spec.parallel)
        try:
            self._feed()
            beat = time.monotonic()
            with self._cond:
                while not self._over():
                    self._cond.wait(0.2)
                    if time.monotonic() - beat >= HEARTBEAT_SECONDS:
                        beat = time.monotonic()
                        self._beat()
        except KeyboardInterrupt:
            # The first Ctrl+C stops the sweep and waits for the running trials to end within a batch;
            # a second one (here, or after the caller's handler stopped it: `tunedeck sweep`) stops waiting.
            waiting = self._stopping is None
            self.stop("stopped by Ctrl+C")
            try:
                with self._cond:
                    while waiting and self._running:
                        self._cond.wait(0.2)
            except KeyboardInterrupt:
                pass
            self._finish()
            raise
        finally:
            self.pool.close_lane(self.lane)
        return self._finish()

    def _beat(self) -> None:
        """Renew the sweep's heartbeat (what a reader on another host goes by); a store hiccup must not end it."""
        with contextlib.suppress(TunedeckError):
            self.store.beat_sweep(self.id)

    def _over(self) -> bool:
        """Called with the lock held: nothing runs and nothing more will start."""
        return not self._running and (self._stopping is not None or self._exhausted)

    def pause(self) -> None:
        """Start no new trial; those running finish."""
        with self._cond:
            if self._stopping or self.state != SweepState.RUNNING:
                return
            self._paused = True
            self.state = SweepState.PAUSED
        self.store.set_sweep_state(self.id, SweepState.PAUSED, "paused by the user")

    def resume(self) -> None:
        with self._cond:
            if not self._paused or self._stopping:
                return
            self._paused = False
            self.state = SweepState.RUNNING
        self.store.set_sweep_state(self.id, SweepState.RUNNING)
        self._feed()

    def stop(self, reason: str = "stopped by the user") -> None:
        """Cancel the running trials (within a batch) and start no more."""
        with self._cond:
            if self._stopping is None:
                self._stopping = reason
            running = list(self._running)
            self._cond.notify_all()
        for trial_id in running:
            self.pool.cancel(trial_id, f"cancelled with its sweep ({reason})")

    def cancel_trial(self, trial_id: int) -> bool:
        """Cancel one running trial of the sweep (within a batch); the sweep goes on. False: not running."""
        with self._cond:
            if trial_id not in self._running:
                return False
        return self.pool.cancel(trial_id, "cancelled by the user; the sweep went on")

    paused = property(lambda self: self._paused)

    @property
    def running_ids(self) -> list[int]:
        with self._cond:
            return sorted(self._running)

    def progress(self) -> SweepProgress:
        with self._cond:
            done = sum(self._counts.values()) - self._counts["cancelled"]
            eta = None
            if self._durations and self.state.is_active:
                mean = sum(self._durations) / len(self._durations)
                eta = (self.spec.planned - done) * mean / max(1, self.spec.parallel)
            best = self.best
            return SweepProgress(self.state, self.spec.planned, done, len(self._running), self._counts["completed"],
                                 self._counts["pruned"], self._counts["failed"], self._counts["cancelled"],
                                 best[1] if best else None, best[0] if best else None, eta)

    # --- feeding the pool ------------------------------------------------------------------------

    def _feed(self) -> None:
        """Keep `parallel` trials in the pool while the sweep is running and the sampler has points."""
        while True:
            with self._cond:
                if self._paused or self._stopping or self._exhausted or len(self._running) >= self.spec.parallel:
                    return
                asked = self.search.ask()
                if asked is None:
                    self._exhausted = True
                    self._cond.notify_all()
                    return
                carried = self._carried.popleft() if self._carried else None
                try:
                    if carried is not None:  # an interrupted trial: it goes on from its checkpoint as itself
                        config = Config.from_dict(carried[2])
                    else:
                        config = self.base.with_updates({**asked.updates, "name": f"{self.name} #{asked.number + 1}"})
                except ConfigError as exc:  # a combination the knobs' own rules refuse: no trial to store
                    self.search.tell(asked.number, TrialState.FAILED, None)
                    self._refused += 1
                    refused: tuple[ConfigError, dict] | None = (exc, asked.updates)
                else:
                    refused = None
                    if carried is not None and self.store.requeue(carried[0]):
                        trial_id = carried[0]
                        self._went_on.add(trial_id)
                    else:
                        trial_id = self.store.create_trial(config, sweep_id=self.id)
                    self._running.add(trial_id)
                    self._number[trial_id] = asked.number
                    self._updates[trial_id] = asked.updates
            if refused is not None:
                if self._on_trial:
                    self._on_trial(-1, TrialFinished(TrialState.FAILED, f"not run: {refused[0]}", Summary(), 0.0),
                                   refused[1])
                continue
            judge = self._judge if self.spec.pruner != "none" else None
            self.pool.submit(config, lane=self.lane, trial_id=trial_id, judge=judge, on_done=self._done,
                             observe=self._observe)
            with self._cond:
                stopping = self._stopping
            if stopping:  # stopped between storing the trial and handing it over: stop() could not see it
                self.pool.cancel(trial_id, f"cancelled with its sweep ({stopping})")

    def _done(self, trial_id: int, finished: TrialFinished, broke: bool) -> None:
        """From the pool, once a trial of the sweep has ended, however it ended.

        Whatever breaks in the bookkeeping (a store hiccup, Optuna, the caller's `on_trial`), the trial
        leaves the running set and the next one is asked for: otherwise its slot would stay empty, and
        the sweep would wait forever for a trial that is over.
        """
        try:
            self._record_end(trial_id, finished, broke)
        finally:
            with self._cond:
                self._running.discard(trial_id)
                self._cond.notify_all()
            try:
                self._feed()
            except TunedeckError as exc:  # the store failed (disk full...) in this pool thread: stop, saying why
                self.stop(str(exc))

    def _record_end(self, trial_id: int, finished: TrialFinished, broke: bool) -> None:
        fault = fault_since(self.store.path, time.monotonic() - finished.seconds - 1.0)  # the store's, not the trial's
        if fault is not None and finished.state in (TrialState.FAILED, TrialState.CANCELLED):
            reason = finished.reason if str(fault) in finished.reason else f"{finished.reason}: {fault}"
            finished, broke = TrialFinished(TrialState.INTERRUPTED, reason, finished.summary, finished.seconds,
                                            error=finished.error), True
        with self._cond:
            number = self._number.get(trial_id)
            updates = self._updates.pop(trial_id, {})
            value = self._best_epoch_value.pop(trial_id, None)
            went_on = trial_id in self._went_on
        if went_on:  # its objective is its best epoch over the whole trial, as the store now holds it
            from engine.sweeps.results import best_value, epoch_values

            with contextlib.suppress(TunedeckError):  # a store hiccup: what this run observed is the next best thing
                value = best_value(epoch_values(self.store, [trial_id], self.spec.metric).get(trial_id, {}),
                                   self.spec.direction)
        if number is not None:
            self.search.tell(number, finished.state, value)
        self._count(trial_id, finished.state, finished.seconds, value)
        if broke:  # the executor itself broke (not the trial): no point going on
            self.stop(finished.reason)
        if self.base.run.keep_best and finished.state.is_finished:
            from engine.sweeps.retention import keep_best_of_sweep

            with contextlib.suppress(TunedeckError):
                keep_best_of_sweep(self.store, self.id)  # run.keep_best: only the K best keep their weights
        if self._on_trial:
            self._on_trial(trial_id, finished, updates)

    def _count(self, trial_id: int | None, state: TrialState, seconds: float, value: float | None = None) -> None:
        with self._cond:
            self._counts[outcome(state)] += 1
            self._durations.append(seconds)
            if trial_id is not None and state.scores and value is not None:
                self.values[trial_id] = value
                if self.best is None or self._better(value, self.best[1]):
                    self.best = (trial_id, value)

    def _better(self, a: float, b: float) -> bool:
        return a < b if self.spec.direction == "minimize" else a > b

    def _observe(self, trial_id: int, batch: Sequence[Event]) -> None:
        """Track each trial's best epoch value (the objective) as its events pass."""
        for event in batch:
            if isinstance(event, EpochEnded):
                value = epoch_metric(self.spec.metric, event)
                if value is None:
                    continue
                with self._cond:
                    old = self._best_epoch_value.get(trial_id)
                    if old is None or self._better(value, old):
                        self._best_epoch_value[trial_id] = value

    def _judge(self, trial_id: int, event: EpochEnded) -> str | None:
        value = epoch_metric(self.spec.metric, event)
        number = self._number.get(trial_id)
        if value is None or number is None:
            return None
        return self.search.report(number, event.epoch, value)

    def _finish(self) -> SweepState:
        with self._cond:
            planned, done = self.spec.planned, sum(self._counts.values()) - self._counts["cancelled"]
            if self._stopping:
                state, reason = SweepState.STOPPED, f"{self._stopping} after {done} of {planned} trials"
                if self._counts["cancelled"]:
                    reason += f"; {self._counts['cancelled']} cancelled, run again on resume"
            else:
                state = SweepState.COMPLETED
                ran = done + self._refused >= planned
                reason = f"all {done} trials ran" if ran else f"the grid was used up after {done} trials"
            if self._refused:
                reason += (f"; {self._refused} sampled combination(s) broke a rule between knobs "
                           "and were not run")
        self.store.set_sweep_state(self.id, state, reason)  # recorded before anyone sees the sweep as over
        with self._cond:
            self.state = state
        return state
