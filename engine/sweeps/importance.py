"""Which knobs mattered: Optuna's importance evaluators, chosen and configured explicitly, with what they rest on.

PED-ANOVA (Optuna 5's default) compares the trials in the top quantile of the objective with all of
them; with fewer than `importance_min_trials` trials in that quantile (a 24-trial sweep has 2 or 3
in its top 10 %) its shares are noise. Below that it falls back to fANOVA (a random forest, seeded
with the sweep's seed) once `importance_min_trials` trials completed, and otherwise says it cannot
judge yet, and why. A multi-objective sweep is judged on its first objective.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from engine.sweeps.pinned import missing
from engine.sweeps.results import SweepResults
from engine.sweeps.spec import label

NAMES = {"ped_anova": "PED-ANOVA", "fanova": "fANOVA", "mdi": "mean decrease impurity"}
FALLBACK = "fanova"


@dataclass(frozen=True)
class Importance:
    scores: dict[str, float] = field(default_factory=dict)  # knob -> share, largest first
    evaluator: str | None = None  # the one that judged; None when none could
    trials: int = 0  # the completed trials it rests on
    note: str = ""  # what the shares rest on, or why there are none


def ped_anova_needs(quantile: float, min_trials: int) -> int:
    """Completed trials PED-ANOVA needs for `min_trials` of them in its top `quantile`."""
    return math.ceil(min_trials / quantile - 1e-9)


def choose(results: SweepResults) -> tuple[str | None, str]:
    """The evaluator the sweep's settings and completed trials allow, and what to say about it."""
    spec = results.spec
    n = len(results.scored)
    q, least = spec.importance_quantile, spec.importance_min_trials
    top = f"{least} trials in its top {q:.0%}"
    if spec.importance == "ped_anova":
        need = ped_anova_needs(q, least)
        if n >= need:
            return "ped_anova", ""
        problem = missing(FALLBACK)
        if n >= least and problem is None:
            return FALLBACK, f"PED-ANOVA needs {need}"
        why = f"PED-ANOVA needs {need} completed trials ({top})"
        return None, f"cannot judge yet: {why}" + (f", {NAMES[FALLBACK]} {least}" if problem is None
                                                   else f"; {problem}")
    problem = missing(spec.importance)
    if problem:
        return None, f"cannot judge: {problem}"
    if n < least:
        return None, f"cannot judge yet: {NAMES[spec.importance]} needs {least} completed trials"
    return spec.importance, ""


def importance(results: SweepResults) -> Importance:
    """Each knob's share of the objective's variation, largest first, and what it rests on.

    No shares until two trials completed and some knob took two values among them, nor below the
    evaluator's minimum (the note says which)."""
    scored = results.scored
    spec = results.spec
    varied = [k for k in spec.keys() if len({label(p.values.get(k)) for p in scored}) > 1]
    if len(scored) < 2 or not varied:
        return Importance(trials=len(scored))
    evaluator, why = choose(results)
    if evaluator is None:
        return Importance(trials=len(scored), note=why)
    import optuna

    from engine.sweeps.sampler import distribution, optuna_value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {k: distribution(optuna, spec.param(k)) for k in varied}
    study = optuna.create_study(direction="maximize" if spec.direction == "maximize" else "minimize")
    for p in scored:
        params = {k: optuna_value(spec.param(k), p.values.get(k)) for k in varied}
        if any(v is None for v in params.values()):
            continue  # a stored value the spec does not hold: leave that trial out
        try:
            study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=p.objective))
        except ValueError:  # a stored value outside the spec's range: leave that trial out
            continue
    used = len(study.trials)
    try:
        scores = optuna.importance.get_param_importances(study, evaluator=_evaluator(optuna, evaluator, results))
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:
        return Importance(trials=used, note=f"{NAMES[evaluator]} could not judge these trials: {exc}")
    shares = {k: float(v) for k, v in scores.items() if math.isfinite(v)}
    basis = f"by {NAMES[evaluator]} over {used} trials"
    return Importance(shares, evaluator, used, f"{basis} ({why})" if why else basis)


def _evaluator(optuna: Any, name: str, results: SweepResults) -> Any:
    spec = results.spec
    imp = optuna.importance
    if name == "ped_anova":
        return imp.PedAnovaImportanceEvaluator(target_quantile=spec.importance_quantile, region_quantile=1.0,
                                               evaluate_on_local=True)
    kind = imp.FanovaImportanceEvaluator if name == "fanova" else imp.MeanDecreaseImpurityImportanceEvaluator
    return kind(n_trees=64, max_depth=64, seed=spec.seed)
