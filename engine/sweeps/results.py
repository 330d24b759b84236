"""A sweep read back from the store: each trial's sampled values and objective, and what mattered.

Works the same for a sweep that is running (re-read as trials finish) and for one from last week:
everything comes from the store, nothing from the live Optuna study. Importance rebuilds a study
from the stored trials and asks Optuna's default evaluator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.config.groups import Config
from engine.errors import ConfigError, StoreError
from engine.states import TrialState
from engine.store import Store
from engine.store.sweeps import SweepRecord
from engine.sweeps.spec import Choice, SearchSpec, label, parse_search


@dataclass(frozen=True)
class TrialPoint:
    """One trial of a sweep: its id, state, sampled values (config form) and objective, if it has one."""

    trial_id: int
    state: TrialState
    values: dict[str, Any]
    objective: float | None
    reason: str | None


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
    objective = _objectives(store, [t.id for t in trials], spec)
    points = []
    for t in trials:
        values = {key: config_value(t.config, key) for key in spec.keys()}
        points.append(TrialPoint(t.id, t.state, values, objective.get(t.id), t.reason))
    return SweepResults(record, spec, tuple(points))


def config_value(config: dict[str, Any], key: str) -> Any:
    """A stored config's value for a dotted key (lists as tuples, as a Config holds them)."""
    value: Any = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return tuple(value) if isinstance(value, list) else value


def epoch_values(store: Store, ids: list[int], metric: str) -> dict[int, dict[int, float]]:
    """Each trial's metric per epoch (finite values only), for the objective and the pruner."""
    out: dict[int, dict[int, float]] = {}
    for trial_id, epoch, _step, _metric, value in store.history(ids, metric=metric):
        if value is not None and math.isfinite(value):
            out.setdefault(trial_id, {})[epoch] = value
    return out


def best_value(epochs: dict[int, float], direction: str) -> float | None:
    """The objective: the best epoch value of the metric in the sweep's direction."""
    if not epochs:
        return None
    return min(epochs.values()) if direction == "minimize" else max(epochs.values())


def _objectives(store: Store, ids: list[int], spec: SearchSpec) -> dict[int, float]:
    """Each trial's best epoch value of the metric, as the sweep told it to Optuna."""
    per_trial = epoch_values(store, ids, spec.metric)
    return {t: v for t, epochs in per_trial.items() if (v := best_value(epochs, spec.direction)) is not None}


def importance(results: SweepResults) -> dict[str, float]:
    """Each knob's share of the objective's variation, largest first (Optuna's default evaluator).

    Empty until two trials completed and some knob took two values among them.
    """
    import optuna

    from engine.sweeps.sampler import distribution, optuna_value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scored = results.scored
    spec = results.spec
    varied = [k for k in spec.keys() if len({label(p.values.get(k)) for p in scored}) > 1]
    if len(scored) < 2 or not varied:
        return {}
    distributions = {k: distribution(optuna, spec.param(k)) for k in varied}
    study = optuna.create_study(direction="maximize" if spec.direction == "maximize" else "minimize")
    for p in scored:
        params = {k: optuna_value(spec.param(k), p.values.get(k)) for k in varied}
        if any(v is None for v in params.values()):
            continue  # a stored value the spec does not hold: leave that trial out
        try:
            study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                      value=p.objective))
        except ValueError:  # a stored value outside the spec's range: leave that trial out
            continue
    try:
        scores = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}
    return {k: float(v) for k, v in scores.items() if math.isfinite(v)}
