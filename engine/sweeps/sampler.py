"""The sampling side of a sweep: an in-memory Optuna study driven by ask and tell.

Optuna samples (grid, random, TPE) and prunes (median, successive halving); tunedeck's store stays
the record of every trial (importance is computed from it: engine.sweeps.results). All calls go through one lock, as
several sweep workers ask and tell at once.
"""
from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.events import EpochEnded
from engine.states import TrialState
from engine.sweeps.spec import Choice, Range, SearchSpec


@dataclass(frozen=True)
class PastTrial:
    """A trial a sweep ran before it was stopped: replayed into a resumed sweep's study."""

    updates: dict[str, Any]  # the searched knobs, as the config holds them
    state: TrialState
    value: float | None  # the objective, for a trial that completed
    epochs: dict[int, float]  # the metric per epoch, for the pruner


@dataclass(frozen=True)
class Asked:
    """One sampled point: the Optuna trial number and the config updates it stands for."""

    number: int
    updates: dict[str, Any]


def epoch_metric(metric: str, event: EpochEnded) -> float | None:
    value = getattr(event, metric)
    return None if value is None or not math.isfinite(value) else float(value)


class Search:
    """`history` (a resumed sweep's finished trials) is replayed first and counts towards the plan;
    `carried` (the points of its interrupted trials that go on from their checkpoints) are the first
    points asked, in order."""

    def __init__(self, spec: SearchSpec, history: Sequence[PastTrial] = (),
                 carried: Sequence[dict[str, Any]] = ()) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if spec.seed is None:
            raise ValueError("a Search needs a seeded spec (SearchSpec.with_seed())")
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
        self._sampler = (optuna.samplers.RandomSampler(seed=seed) if self._resumed_grid
                         else _sampler(optuna, replace(spec, seed=seed)))
        self.study = optuna.create_study(direction="maximize" if spec.direction == "maximize" else "minimize", sampler=self._sampler, pruner=_pruner(optuna, spec))
        self._trials: dict[int, Any] = {}
        self.asked = 0
        for past in history:
            self._replay(past)
        fixed = [{p.key: optuna_value(p, point.get(p.key)) for p in spec.params} for point in carried]
        for point in fixed:
            self.study.enqueue_trial(point)
        if self._resumed_grid:
            for point in self._grid_left(history):
                if point not in fixed:
                    self.study.enqueue_trial(point)

    def _replay(self, past: PastTrial) -> None:
        ts = self._optuna.trial.TrialState
        params = {p.key: optuna_value(p, past.updates.get(p.key)) for p in self.spec.params}
        if any(v is None for v in params.values()):
            return  # a value the spec no longer holds: leave it out of the study, not out of the store
        if past.state == TrialState.PRUNED:
            state, value = ts.PRUNED, None
        elif past.state.has_results and past.value is not None:
            state, value = ts.COMPLETE, past.value
        else:
            state, value = ts.FAIL, None
        try:
            trial = self._optuna.trial.create_trial(params=params, distributions=self._distributions, state=state,
                                                    value=value, intermediate_values=dict(past.epochs))
        except ValueError:
            return
        self.study.add_trial(trial)
        self.asked += 1

    def _grid_left(self, history: Sequence[PastTrial]) -> list[dict[str, Any]]:
        import itertools

        axes = [[optuna_value(p, v) for v in (p.values if isinstance(p, Choice) else p.grid_values())]
                for p in self.spec.params]
        done = {tuple(optuna_value(p, past.updates.get(p.key)) for p in self.spec.params) for past in history}
        keys = self.spec.keys()
        return [dict(zip(keys, point)) for point in itertools.product(*axes) if point not in done]

    def ask(self) -> Asked | None:
        """The next point, or None when the planned number has been asked or the grid is used up."""
        with self._lock:
            if self.asked >= self.spec.planned or self._grid_exhausted():
                return None
            trial = self.study.ask(self._distributions)
            self._trials[trial.number] = trial
            self.asked += 1
            return Asked(trial.number, {p.key: _to_config(p, trial.params[p.key]) for p in self.spec.params})

    def _grid_exhausted(self) -> bool:
        if self.spec.strategy != "grid" or self.asked == 0:
            return False
        if self._resumed_grid:
            waiting = self._optuna.trial.TrialState.WAITING
            return not any(t.state == waiting for t in self.study.get_trials(deepcopy=False))
        return bool(self._sampler.is_exhausted(self.study))  # type: ignore[union-attr]

    def report(self, number: int, epoch: int, value: float) -> str | None:
        """Record an epoch's metric; a reason to prune the trial, or None to let it go on."""
        with self._lock:
            trial = self._trials[number]
            trial.report(value, epoch)
            if not trial.should_prune():
                return None
            return self._prune_reason(trial, epoch)

    def _prune_reason(self, trial: Any, epoch: int) -> str:
        spec = self.spec
        values = trial.storage.get_trial(trial._trial_id).intermediate_values
        best = (min if spec.direction == "minimize" else max)(v for s, v in values.items() if s <= epoch)
        if spec.pruner == "median":
            done = self.study.get_trials(deepcopy=False, states=(self._optuna.trial.TrialState.COMPLETE,))
            at_epoch = [t.intermediate_values[epoch] for t in done if epoch in t.intermediate_values]
            if at_epoch:
                sign = ">" if spec.direction == "minimize" else "<"
                return (f"{spec.metric} {best:.4g} {sign} median {statistics.median(at_epoch):.4g} "
                        f"of {len(at_epoch)} completed trial(s) at epoch {epoch}")
            return f"{spec.metric} {best:.4g} worse than the completed trials at epoch {epoch} (median pruner)"
        return (f"{spec.metric} {best:.4g} at epoch {epoch} is not among the best third of the trials "
                f"that reached that rung (successive halving)")

    def tell(self, number: int, state: TrialState, value: float | None) -> None:
        """Close a trial: completed ones with their objective value, pruned ones as pruned, the rest failed."""
        ts = self._optuna.trial.TrialState
        with self._lock:
            trial = self._trials.pop(number)
            if state == TrialState.PRUNED:
                kwargs: dict[str, Any] = {"state": ts.PRUNED}
            elif state.has_results and value is not None:
                kwargs = {"values": value}
            else:
                kwargs = {"state": ts.FAIL}
            try:
                self.study.tell(trial, **kwargs)
            except RuntimeError as exc:
                # GridSampler calls study.stop() after the last point, which only works inside optimize();
                # the trial is already recorded by then.
                if "Study.stop" not in str(exc):
                    raise


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


def _sampler(optuna: Any, spec: SearchSpec) -> Any:
    s = optuna.samplers
    if spec.strategy == "grid":
        space = {p.key: (list(p.values) if p.scalar else list(p.labels)) if isinstance(p, Choice) else p.grid_values()
                 for p in spec.params}
        return s.GridSampler(space, seed=spec.seed)
    if spec.strategy == "random":
        return s.RandomSampler(seed=spec.seed)
    return s.TPESampler(seed=spec.seed, n_startup_trials=min(10, max(2, spec.planned // 4)))


def _pruner(optuna: Any, spec: SearchSpec) -> Any:
    p = optuna.pruners
    if spec.pruner == "median":
        return p.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=spec.warmup_epochs + 1)
    if spec.pruner == "successive_halving":
        return p.SuccessiveHalvingPruner(min_resource=spec.warmup_epochs + 1, reduction_factor=3)
    return p.NopPruner()
