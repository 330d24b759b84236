"""A sweep read back from the store: each trial's sampled values and objective, and what mattered.

Works the same for a sweep that is running (re-read as trials finish) and for one from last week:
everything comes from the store, nothing from the live Optuna study (importance: engine.sweeps.importance).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config.groups import Config
from engine.errors import ConfigError, StoreError
from engine.states import TrialState
from engine.store import Store
from engine.store.sweeps import SweepRecord
from engine.sweeps.objectives import best_value, epoch_values, objective_values, pareto_front
from engine.sweeps.spec import Choice, SearchSpec, label, parse_search

__all__ = ["SweepResults", "TrialPoint", "best_value", "config_value", "epoch_values", "load_results"]


@dataclass(frozen=True)
class TrialPoint:
    """One trial of a sweep: its id, state, sampled values (config form) and objective, if it has one."""

    trial_id: int
    state: TrialState
    values: dict[str, Any]
    objective: float | None  # the first objective's value, in a multi-objective sweep
    reason: str | None
    objectives: tuple[float, ...] | None = None  # every objective's, in a multi-objective sweep


@dataclass(frozen=True)
class SweepResults:
    record: SweepRecord
    spec: SearchSpec
    points: tuple[TrialPoint, ...]

    @property
    def scored(self) -> list[TrialPoint]:
        """Trials that completed with an objective (pruned and failed ones have none)."""
        return [p for p in self.points if p.objective is not None and p.state.scores]

    @property
    def best(self) -> TrialPoint | None:
        scored = self.scored
        if not scored:
            return None
        pick = min if self.spec.direction == "minimize" else max
        return pick(scored, key=lambda p: p.objective)  # type: ignore[arg-type, return-value]

    @property
    def front(self) -> list[TrialPoint]:
        """A multi-objective sweep's Pareto front (engine.sweeps.objectives), first objective first; else empty."""
        if not self.spec.multi:
            return []
        by_id = {p.trial_id: p for p in self.scored}
        values = {p.trial_id: p.objectives for p in self.scored if p.objectives is not None}
        front = pareto_front(values, [d for _, d in self.spec.goals])
        return [by_id[i] for i in front]

    def axis(self, key: str) -> tuple[list[float], list[float], list[str] | None, bool]:
        """A scatter of one knob against the objective: (x, y, tick labels for choices, log x)."""
        param = self.spec.param(key)
        xs: list[float] = []
        ys: list[float] = []
        position = {text: i for i, text in enumerate(param.labels)} if isinstance(param, Choice) else {}
        for p in self.scored:
            value = p.values.get(key)
            if isinstance(param, Choice):
                index = position.get(label(value))
                if index is None:
                    continue
                xs.append(float(index))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                xs.append(float(value))
            else:
                continue
            ys.append(float(p.objective))  # type: ignore[arg-type]
        if isinstance(param, Choice):
            return xs, ys, list(param.labels), False
        return xs, ys, None, param.log


def load_results(store: Store, sweep_id: int) -> SweepResults:
    record = store.sweep(sweep_id)
    try:
        base = Config.from_dict(record.base)
        spec = parse_search(record.spec, base)
    except ConfigError as exc:
        raise StoreError(f"sweep {sweep_id} was stored by another version of tunedeck and cannot be read: "
                         f"{exc}") from None
    trials = store.trials(sweep_id=sweep_id)
    several = objective_values(store, trials, spec.goals) if spec.multi else {}
    objective = {i: v[0] for i, v in several.items()} if spec.multi else _objectives(store, [t.id for t in trials], spec)
    points = []
    for t in trials:
        values = {key: config_value(t.config, key) for key in spec.keys()}
        points.append(TrialPoint(t.id, t.state, values, objective.get(t.id), t.reason, several.get(t.id)))
    return SweepResults(record, spec, tuple(points))


def config_value(config: dict[str, Any], key: str) -> Any:
    """A stored config's value for a dotted key (lists as tuples, as a Config holds them)."""
    value: Any = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return tuple(value) if isinstance(value, list) else value


def _objectives(store: Store, ids: list[int], spec: SearchSpec) -> dict[int, float]:
    """Each trial's best epoch value of the metric, as the sweep told it to Optuna."""
    per_trial = epoch_values(store, ids, spec.metric)
    return {t: v for t, epochs in per_trial.items() if (v := best_value(epochs, spec.direction)) is not None}

