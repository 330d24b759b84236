"""The sampling side of a sweep: an in-memory Optuna study driven by ask and tell.

Optuna samples (grid, random, TPE) and prunes (median, successive halving); tunedeck's store stays
the record of every trial (importance is computed from it: engine.sweep_results). All calls go through one lock, as
several sweep workers ask and tell at once.
"""
from __future__ import annotations

import math
import statistics
import threading
from dataclasses import dataclass
from typing import Any

from engine.events import EpochEnded, TrialState
from engine.search_spec import Choice, Range, SearchSpec


@dataclass(frozen=True)
class Asked:
    """One sampled point: the Optuna trial number and the config updates it stands for."""

    number: int
    updates: dict[str, Any]


def epoch_metric(metric: str, event: EpochEnded) -> float | None:
    value = getattr(event, metric)
    return None if value is None or not math.isfinite(value) else float(value)


class Search:
    def __init__(self, spec: SearchSpec) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if spec.seed is None:
            raise ValueError("a Search needs a seeded spec (SearchSpec.with_seed())")
        self.spec = spec
        self._optuna = optuna
        self._lock = threading.Lock()
        self._distributions = {p.key: _distribution(optuna, p) for p in spec.params}
        self._sampler = _sampler(optuna, spec)
        self.study = optuna.create_study(direction=spec.direction, sampler=self._sampler, pruner=_pruner(optuna, spec))
        self._trials: dict[int, Any] = {}
        self.asked = 0

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
        return self.spec.strategy == "grid" and self.asked > 0 and self._sampler.is_exhausted(self.study)

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
            elif state.ok and value is not None:
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


def _distribution(optuna: Any, p: Choice | Range) -> Any:
    d = optuna.distributions
    if isinstance(p, Choice):
        return d.CategoricalDistribution(list(p.values) if p.scalar else list(p.labels))
    if p.integer:
        return d.IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return d.FloatDistribution(p.low, p.high, log=p.log, step=p.step)


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
