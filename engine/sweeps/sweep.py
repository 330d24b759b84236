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

from engine.config.groups import Config
from engine.errors import ConfigError, TunedeckError
from engine.events import EpochEnded, Event, Summary, TrialFinished
from engine.execution.pool import TrialPool
from engine.states import SweepState, TrialState
from engine.store.faults import fault_since
from engine.store.liveness import HEARTBEAT_SECONDS
from engine.store.sweeps import SweepRecord
from engine.store.trials import Store
from engine.sweeps import stored
from engine.sweeps.objectives import best_value, epoch_values, objective_values, pareto_front
from engine.sweeps.pinned import check_available, optuna_version, pin
from engine.sweeps.sampler import Asked, Search, epoch_metric
from engine.sweeps.spec import SearchSpec
from engine.sweeps.stored import SweepError, SweepProgress, outcome, sweep_name

__all__ = ["OnNote", "OnTrial", "Sweep", "SweepError", "SweepProgress", "outcome", "sweep_name"]

# Called after each trial of the sweep has ended (from a pool thread): trial id (-1: a sampled
# combination that was refused before a trial was stored), how it ended, the knobs it was given.
OnTrial = Callable[[int, TrialFinished, dict], None]
# Called with a line for the sweep's log: a repeat skipped, a config enqueued, a changed Optuna.
OnNote = Callable[[str], None]


class Sweep:
    """Build it (the sweep is stored at once), then `run()` to block or `start()` for a thread."""

    def __init__(self, store: Store, base: Config, spec: SearchSpec, pool: TrialPool, *,
                 on_trial: OnTrial | None = None, resuming: SweepRecord | None = None,
                 on_note: OnNote | None = None) -> None:
        check_available(spec)
        pool.warm(spec.parallel)  # the trainers import torch while Optuna is imported and the study built
        self.store = store
        self.base = base
        self.spec = pin(spec, base.optim.max_epochs)  # seeded, with every Optuna setting written out
        self.pool = pool
        self._on_trial = on_trial
        self._on_note = on_note
        self.notes: list[str] = []
        past = stored.past_trials(store, resuming.id, self.spec) if resuming else []
        carried = stored.carried_trials(store, resuming.id, self.spec) if resuming else []
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
            was = (spec.optuna or {}).get("version")
            if was and was != optuna_version():
                self._note(f"stored with Optuna {was}, running under Optuna {optuna_version()}: "
                           "the sampler and pruner keep the stored settings")
        self.lane = f"sweep-{self.id}"
        self._cond = threading.Condition()
        self._paused = False
        self._stopping: str | None = None
        self._exhausted = False
        self._lane_open = False  # enqueue() before run(): the point waits for the lane
        self._running: set[int] = set()
        self._number: dict[int, int] = {}  # store trial id -> Optuna trial number
        self._updates: dict[int, dict] = {}
        self._best_epoch_value: dict[int, float] = {}
        self._went_on: set[int] = set()  # carried trials: their epochs before the checkpoint were not observed
        self._durations: list[float] = []
        self._counts = {"completed": 0, "pruned": 0, "failed": 0, "cancelled": 0}
        self._refused = 0  # sampled combinations that the knobs' rules refused (no trial was stored)
        self.best: tuple[int, float] | None = None  # (trial id, objective)
        self.values: dict[int, float] = {}  # trial id -> objective (the first, if several), for trials that completed
        self.points: dict[int, tuple[float, ...]] = {}  # trial id -> every objective, in a multi-objective sweep
        self._repeats = 0  # sampled points skipped as repeats, as said in the log
        self.state = SweepState.RUNNING
        for trial_id, p in past:
            self._count(trial_id, p.state, 0.0, p.value)
        self._repeats = self.search.repeats
        self._durations.clear()  # the ETA is this run's pace, not the stored trials'

    @classmethod
    def resumed(cls, store: Store, sweep_id: int, pool: TrialPool, *, parallel: int | None = None,
                on_trial: OnTrial | None = None, on_note: OnNote | None = None) -> Sweep:
        """Go on with a stopped or interrupted sweep: its finished trials count, its cancelled and
        interrupted ones are run again, up to the planned number. The same sweep id, base, seed and
        Optuna settings (as stored, whatever the preset or Optuna's defaults say now)."""
        record = store.sweep(sweep_id)
        if record.state == SweepState.COMPLETED:
            raise SweepError(f"sweep {sweep_id} ({record.name}) has already completed: {record.reason}")
        if record.state.is_active and record.pid is not None:
            raise SweepError(f"sweep {sweep_id} ({record.name}) is still {record.state.value} in process "
                             f"{record.pid}; stop it there first")
        base, spec = stored.resumed_spec(record, parallel)
        return cls(store, base, spec, pool, on_trial=on_trial, on_note=on_note, resuming=record)

    # --- control -------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run in a background thread (the cockpit's way); returns it."""
        thread = threading.Thread(target=self.run, name=f"tunedeck-sweep-{self.id}", daemon=True)
        thread.start()
        return thread

    def run(self) -> SweepState:
        """Train the sweep to its end; returns the final state. Ctrl+C stops it cleanly and re-raises."""
        self.pool.open_lane(self.lane, self.spec.parallel)
        self._lane_open = True
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
                if (self._paused or self._stopping or self._exhausted or not self._lane_open
                        or len(self._running) >= self.spec.parallel):
                    return
                asked = self.search.ask()
                repeats, self._repeats = self.search.repeats - self._repeats, self.search.repeats
                if asked is not None:
                    config, trial_id, refused = self._take(asked)
            if repeats:
                self._note(f"skipped {repeats} sampled config(s) that repeated an earlier trial's "
                           f"({self.search.repeats} so far)")
            if asked is None:  # said before the sweep can be seen as over
                with self._cond:
                    self._exhausted = True
                    self._cond.notify_all()
                return
            if asked.enqueued and refused is None:
                self._note(f"trial {trial_id} runs the config given by hand: {stored.knobs_text(asked.updates)}")
            if refused is not None:
                if self._on_trial:
                    self._on_trial(-1, TrialFinished(TrialState.FAILED, f"not run: {refused[0]}", Summary(), 0.0),
                                   refused[1])
                continue
            judge = self._judge if self.spec.pruner != "none" or self.spec.pruner_patience else None
            self.pool.submit(config, lane=self.lane, trial_id=trial_id, judge=judge, on_done=self._done,
                             observe=self._observe)
            with self._cond:
                stopping = self._stopping
            if stopping:  # stopped between storing the trial and handing it over: stop() could not see it
                self.pool.cancel(trial_id, f"cancelled with its sweep ({stopping})")

    def _take(self, asked: Asked) -> tuple[Config, int, tuple[ConfigError, dict] | None]:
        """With the lock held: the asked point's config, stored as a trial of the sweep (or why not)."""
        carried = self._carried.popleft() if self._carried else None
        try:
            if carried is not None:  # an interrupted trial: it goes on from its checkpoint as itself
                config = Config.from_dict(carried[2])
            else:
                config = self.base.with_updates({**asked.updates, "name": f"{self.name} #{asked.number + 1}"})
        except ConfigError as exc:  # a combination the knobs' own rules refuse: no trial to store
            self.search.tell(asked.number, TrialState.FAILED, None)
            self._refused += 1
            return self.base, -1, (exc, asked.updates)
        if carried is not None and self.store.requeue(carried[0]):
            trial_id = carried[0]
            self._went_on.add(trial_id)
        else:
            trial_id = self.store.create_trial(config, sweep_id=self.id)
        self._running.add(trial_id)
        self._number[trial_id] = asked.number
        self._updates[trial_id] = asked.updates
        return config, trial_id, None

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
        several: tuple[float, ...] | None = None
        if self.spec.multi and finished.state.scores:  # every objective, as the store holds the trial now
            with contextlib.suppress(TunedeckError):
                several = objective_values(self.store, [self.store.trial(trial_id)], self.spec.goals).get(trial_id)
            value = several[0] if several else None
        elif went_on:  # its objective is its best epoch over the whole trial, as the store now holds it
            with contextlib.suppress(TunedeckError):  # a store hiccup: what this run observed is the next best thing
                value = best_value(epoch_values(self.store, [trial_id], self.spec.metric).get(trial_id, {}),
                                   self.spec.direction)
        if number is not None:
            self.search.tell(number, finished.state, several if self.spec.multi else value)
        self._count(trial_id, finished.state, finished.seconds, several or value)
        if broke:  # the executor itself broke (not the trial): no point going on
            self.stop(finished.reason)
        if self.base.run.keep_best and finished.state.is_finished:
            from engine.sweeps.retention import keep_best_of_sweep

            with contextlib.suppress(TunedeckError):
                keep_best_of_sweep(self.store, self.id)  # run.keep_best: only the K best keep their weights
        if self._on_trial:
            self._on_trial(trial_id, finished, updates)

    def _count(self, trial_id: int | None, state: TrialState, seconds: float,
               value: float | tuple[float, ...] | None = None) -> None:
        with self._cond:
            self._counts[outcome(state)] += 1
            self._durations.append(seconds)
            if isinstance(value, tuple):
                if trial_id is not None and state.scores:
                    self.points[trial_id] = value
                value = value[0]
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
            done = sum(self._counts.values()) - self._counts["cancelled"]
            lost = self._counts["cancelled"] and done + self._refused < self.spec.planned
            state = SweepState.STOPPED if self._stopping or lost else SweepState.COMPLETED  # resumable
            reason = stored.finish_reason(self.spec.planned, done, self._counts["cancelled"], self._refused, self._stopping,
                                   self.search.used_up, self.search.repeats)
        self.store.set_sweep_state(self.id, state, reason)  # recorded before anyone sees the sweep as over
        with self._cond:
            self.state = state
        return state

    # --- by hand and in the log --------------------------------------------------------------------

    def enqueue(self, config: dict) -> str:
        """Run a hand-picked config next (its searched knobs; the rest is the sweep's base): it takes one
        of the planned trials. ConfigError says why not (a value outside the search, nothing left)."""
        from engine.sweeps.results import config_value

        with self._cond:
            if self._stopping or not self.state.is_active:
                raise SweepError(f"sweep {self.id} ({self.name}) is {self.state.value}: nothing to enqueue into")
        given = self.search.enqueue({key: config_value(config, key) for key in self.spec.keys()})
        line = f"enqueued into sweep {self.id}, runs next: {stored.knobs_text(given)}"
        self._note(line)
        self._feed()
        return line

    @property
    def front(self) -> list[int]:
        """A multi-objective sweep's Pareto front so far (trial ids); empty for one objective."""
        with self._cond:
            points = dict(self.points)
        return pareto_front(points, [d for _, d in self.spec.goals]) if self.spec.multi else []

    def _note(self, line: str) -> None:
        self.notes.append(line)
        if self._on_note:
            self._on_note(line)

