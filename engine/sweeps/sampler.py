"""The sampling side of a sweep: an in-memory Optuna study driven by ask and tell.

Optuna samples (grid, random, TPE, GP, CMA-ES, QMC) and prunes (median, successive halving,
Hyperband, Wilcoxon, each optionally patient), with the settings pinned in engine.sweeps.pinned;
tunedeck's store stays the record of every trial (importance is computed from it:
engine.sweeps.importance). All calls go through one lock, as several sweep workers ask and tell at once.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.events import EpochEnded
from engine.states import TrialState
from engine.sweeps.pinned import build_pruner, build_sampler, pin
from engine.sweeps.prune_reasons import prune_reason
from engine.sweeps.spec import Choice, Range, SearchSpec, label

MAX_REPEATS = 100  # sampled configs in a row that repeat earlier ones: the space is used up
SKIPS_REPEATS = ("random", "tpe")
STUDY_NAME = "tunedeck-sweep"  # fixed: Hyperband places a trial in a bracket by hashing the study's name


@dataclass(frozen=True)
class PastTrial:
    """A trial a sweep ran before it was stopped: replayed into a resumed sweep's study."""

    updates: dict[str, Any]  # the searched knobs, as the config holds them
    state: TrialState
    value: float | tuple[float, ...] | None  # the objective (one per metric), for a trial that completed
    epochs: dict[int, float]  # the metric per epoch, for the pruner


@dataclass(frozen=True)
class Asked:
    """One sampled point: the Optuna trial number and the config updates it stands for."""

    number: int
    updates: dict[str, Any]
    enqueued: bool = False  # a config given by hand (Search.enqueue), not sampled


def epoch_metric(metric: str, event: EpochEnded) -> float | None:
    value = getattr(event, metric)
    return None if value is None or not math.isfinite(value) else float(value)


class Search:
    """`history` (a resumed sweep's finished trials) is replayed first and counts towards the plan;
    `carried` (the points of its interrupted trials that go on from their checkpoints) are the first
    points asked, in order. The spec's Optuna settings are used as stored (engine.sweeps.pinned);
    a spec without them is pinned here."""

    def __init__(self, spec: SearchSpec, history: Sequence[PastTrial] = (),
                 carried: Sequence[dict[str, Any]] = (), *, max_epochs: int = 100) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if spec.seed is None:
            raise ValueError("a Search needs a seeded spec (SearchSpec.with_seed())")
        spec = pin(spec, max_epochs)
        assert spec.optuna is not None and spec.seed is not None  # pin() writes them
        self.spec = spec
        self._optuna = optuna
        self._lock = threading.Lock()
        self._distributions = {p.key: distribution(optuna, p) for p in spec.params}
        self._resumed_grid = spec.strategy == "grid" and bool(history or carried)
        # A resumed grid is finished by enqueueing the points not yet run: the GridSampler cannot
        # take replayed trials (it tracks its points in its own trial attributes).
        # Replayed trials do not move a sampler's random generator on: a resumed sweep would draw its
        # first points again. It draws from a seed of its own, derived from the sweep's and its history.
        seed = (spec.seed + 7919 * len(history)) % 2**32 if history else spec.seed
        self._sampler: Any = (optuna.samplers.RandomSampler(seed=seed) if self._resumed_grid
                         else build_sampler(optuna, spec.optuna["sampler"], seed, spec))
        self.study = optuna.create_study(study_name=STUDY_NAME, directions=[_direction(optuna, d) for _, d in spec.goals],
                                         sampler=self._sampler, pruner=build_pruner(optuna, spec.optuna["pruner"]))
        self._trials: dict[int, Any] = {}
        self._seen: dict[tuple[Any, ...], int] = {}  # each tried point -> its Optuna trial number
        self.asked = 0
        self.waiting = 0  # configs given by hand (enqueue) not yet asked
        self.repeats = 0  # sampled points skipped because an earlier trial had them
        self.used_up = False  # MAX_REPEATS repeats in a row
        for past in history:
            self._replay(past)
        fixed = [{p.key: optuna_value(p, point.get(p.key)) for p in spec.params} for point in carried]
        left = [p for p in self._grid_left(history) if p not in fixed] if self._resumed_grid else []
        for point in fixed + left:
            self.study.enqueue_trial(point)
        self._resumed_points = len(fixed) + len(left)  # enqueued here, asked before any given by hand

    def _replay(self, past: PastTrial) -> None:
        ts = self._optuna.trial.TrialState
        params = {p.key: optuna_value(p, past.updates.get(p.key)) for p in self.spec.params}
        if any(v is None for v in params.values()):
            return  # a value the spec no longer holds: leave it out of the study, not out of the store
        values: Any = None
        if past.state == TrialState.PRUNED:
            state = ts.PRUNED
        elif past.state.has_results and past.value is not None:
            state, values = ts.COMPLETE, past.value if isinstance(past.value, tuple) else (past.value,)
        else:
            state = ts.FAIL
        try:
            trial = self._optuna.trial.create_trial(params=params, distributions=self._distributions, state=state,
                                                    values=values, intermediate_values=dict(past.epochs))
        except ValueError:
            return
        self.study.add_trial(trial)
        self._seen.setdefault(self._point(params), trial.number)
        self.asked += 1

    def _grid_left(self, history: Sequence[PastTrial]) -> list[dict[str, Any]]:
        import itertools

        axes = [[optuna_value(p, v) for v in (p.values if isinstance(p, Choice) else p.grid_values())]
                for p in self.spec.params]
        done = {tuple(optuna_value(p, past.updates.get(p.key)) for p in self.spec.params) for past in history}
        keys = self.spec.keys()
        return [dict(zip(keys, point)) for point in itertools.product(*axes) if point not in done]

    def _point(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(params.get(k) for k in self.spec.keys())

    def ask(self) -> Asked | None:
        """The next point, or None when the planned number has been asked or the grid is used up.

        Random and TPE skip a point an earlier trial already had (told to Optuna with that trial's
        result, so the sampler moves on): `repeats` counts them; MAX_REPEATS in a row end the search."""
        with self._lock:
            if self.asked >= self.spec.planned or self._grid_exhausted() or self.used_up:
                return None
            for _ in range(MAX_REPEATS):
                trial = self.study.ask(self._distributions)
                enqueued = "fixed_params" in self.study._storage.get_trial_system_attrs(trial._trial_id)
                point = self._point(trial.params)
                earlier = self._seen.get(point)
                if earlier is None or enqueued or self.spec.strategy not in SKIPS_REPEATS:
                    break
                self._tell_repeat(trial, earlier)
            else:
                self.used_up = True
                return None
            self._seen.setdefault(point, trial.number)
            self._trials[trial.number] = trial
            self.asked += 1
            if enqueued and self._resumed_points:
                self._resumed_points -= 1
            elif enqueued:
                self.waiting -= 1
            return Asked(trial.number, {p.key: _to_config(p, trial.params[p.key]) for p in self.spec.params},
                         enqueued)

    def _tell_repeat(self, trial: Any, earlier: int) -> None:
        self.repeats += 1
        before = self.study._storage.get_trial(self.study._storage.get_trial_id_from_study_id_trial_number(
            self.study._study_id, earlier))
        if before.state == self._optuna.trial.TrialState.COMPLETE:
            self.study.tell(trial, values=before.values)
        else:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)

    def enqueue(self, updates: dict[str, Any]) -> dict[str, Any]:
        """Put a config given by hand first in line (`study.enqueue_trial`): it is the next point asked and
        takes one of the planned trials. Every searched knob must hold a value the search can take;
        a ConfigError names the first that does not. Returns the values enqueued (config form)."""
        params: dict[str, Any] = {}
        for p in self.spec.params:
            value = updates.get(p.key)
            named = optuna_value(p, value)
            dist = self._distributions[p.key]
            if named is None or not dist._contains(dist.to_internal_repr(named)):
                raise ConfigError(f"is outside this sweep's search ({_space_text(p)})", key=p.key, value=value)
            params[p.key] = named
        with self._lock:
            if self.spec.strategy == "grid":
                raise ConfigError("a grid sweep visits its own points; enqueue into a random, tpe, gp, cmaes "
                                  "or qmc sweep", key="enqueue", value=self.spec.strategy)
            if self.asked + self.waiting >= self.spec.planned:
                raise ConfigError(f"the sweep has asked all its {self.spec.planned} planned trials; "
                                  "nothing is left to give this config", key="enqueue")
            self.study.enqueue_trial(params, skip_if_exists=False)
            self.waiting += 1
        return {p.key: _to_config(p, params[p.key]) for p in self.spec.params}

    def _grid_exhausted(self) -> bool:
        if self.spec.strategy != "grid" or self.asked == 0:
            return False
        if self._resumed_grid:
            waiting = self._optuna.trial.TrialState.WAITING
            return not any(t.state == waiting for t in self.study.get_trials(deepcopy=False))
        return bool(self._sampler.is_exhausted(self.study))

    def report(self, number: int, epoch: int, value: float) -> str | None:
        """Record an epoch's metric; a reason to prune the trial, or None to let it go on."""
        with self._lock:
            trial = self._trials[number]
            trial.report(value, epoch)
            if not trial.should_prune():
                return None
            values = trial.storage.get_trial(trial._trial_id).intermediate_values
            return prune_reason(self._optuna, self.study, self.spec, values, epoch)

    def tell(self, number: int, state: TrialState, value: float | tuple[float, ...] | None) -> None:
        """Close a trial: completed ones with their objective value(s), pruned ones as pruned, the rest failed."""
        ts = self._optuna.trial.TrialState
        with self._lock:
            trial = self._trials.pop(number)
            if state == TrialState.PRUNED:
                kwargs: dict[str, Any] = {"state": ts.PRUNED}
            elif state.has_results and value is not None:
                kwargs = {"values": list(value) if isinstance(value, tuple) else value}
            else:
                kwargs = {"state": ts.FAIL}
            try:
                self.study.tell(trial, **kwargs)
            except RuntimeError as exc:
                # GridSampler calls study.stop() after the last point, which only works inside optimize();
                # the trial is already recorded by then.
                if "Study.stop" not in str(exc):
                    raise


def _direction(optuna: Any, direction: str) -> Any:
    return optuna.study.StudyDirection.MAXIMIZE if direction == "maximize" else optuna.study.StudyDirection.MINIMIZE


def _space_text(p: Choice | Range) -> str:
    if isinstance(p, Choice):
        return "one of " + ", ".join(label(v) for v in p.values[:8]) + (", ..." if len(p.values) > 8 else "")
    return f"{p.low:g} to {p.high:g}" + (f" in steps of {p.step:g}" if p.step else "")


def distribution(optuna: Any, p: Choice | Range) -> Any:
    """The Optuna distribution a knob is sampled from (list choices by their labels)."""
    d = optuna.distributions
    if isinstance(p, Choice):
        return d.CategoricalDistribution(list(p.values) if p.scalar else list(p.labels))
    if p.integer:
        return d.IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return d.FloatDistribution(p.low, p.high, log=p.log, step=p.step)


def optuna_value(p: Choice | Range, value: Any) -> Any:
    """A config value as the study names it (list choices by their label); None if the spec has no such value."""
    if isinstance(p, Choice):
        if isinstance(value, list):
            value = tuple(value)
        if value not in p.values:
            return None
        return value if p.scalar else p.labels[p.values.index(value)]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if p.integer else float(value)


def _to_config(p: Choice | Range, value: Any) -> Any:
    if isinstance(p, Choice):
        return value if p.scalar else p.values[p.labels.index(value)]
    return int(value) if p.integer else float(value)
