"""Why a pruner stopped a trial, in words: every prune decision is stored with its reason.

Optuna's pruners answer yes or no; the reason is rebuilt here from what each one compares, from
the same study, so that the trial table and `tunedeck show` say what the trial lost to.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from engine.sweeps.pinned import REDUCTION, WILCOXON_P
from engine.sweeps.spec import SearchSpec


def prune_reason(optuna: Any, study: Any, spec: SearchSpec, values: Mapping[int, float], epoch: int) -> str:
    """The reason for pruning a trial whose metric per epoch is `values`, judged at `epoch`."""
    inner = _inner_reason(optuna, study, spec, values, epoch)
    if not spec.pruner_patience:
        return inner
    p = spec.pruner_patience
    pick = min if spec.direction == "minimize" else max
    before = [v for s, v in values.items() if s < epoch - p]  # Optuna's window: the last p + 1 epochs
    recent = [v for s, v in values.items() if epoch - p <= s <= epoch]
    held = (f"{spec.metric} {pick(recent):.4g} over the last {p + 1} epochs is worse than its best before, "
            f"{pick(before):.4g}" if before and recent else f"{spec.metric} got worse for {p + 1} epochs")
    return f"{held} (patience {p})" + (f"; {inner}" if spec.pruner != "none" else "")


def _inner_reason(optuna: Any, study: Any, spec: SearchSpec, values: Mapping[int, float], epoch: int) -> str:
    pick = min if spec.direction == "minimize" else max
    best = pick(v for s, v in values.items() if s <= epoch)
    if spec.pruner == "median":
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        at_epoch = [t.intermediate_values[epoch] for t in done if epoch in t.intermediate_values]
        if at_epoch:
            sign = ">" if spec.direction == "minimize" else "<"
            return (f"{spec.metric} {best:.4g} {sign} median {statistics.median(at_epoch):.4g} "
                    f"of {len(at_epoch)} completed trial(s) at epoch {epoch}")
        return f"{spec.metric} {best:.4g} worse than the completed trials at epoch {epoch} (median pruner)"
    if spec.pruner == "successive_halving":
        return (f"{spec.metric} {best:.4g} at epoch {epoch} is not among the best 1/{REDUCTION} of the trials "
                f"that reached that rung (successive halving)")
    if spec.pruner == "hyperband":
        return (f"{spec.metric} {best:.4g} at epoch {epoch} is not among the best 1/{REDUCTION} of the trials "
                f"of its Hyperband bracket that reached that rung (hyperband)")
    if spec.pruner == "wilcoxon":
        try:
            leader = study.best_trial
        except ValueError:
            leader = None
        shared = sorted(set(values) & set(leader.intermediate_values)) if leader is not None else []
        against = f"trial #{leader.number + 1} (the best so far)" if leader is not None else "the best trial so far"
        return (f"{spec.metric} over {len(shared) or epoch} epoch(s) is worse than {against} at the same epochs "
                f"by the Wilcoxon signed-rank test (p < {WILCOXON_P}, wilcoxon)")
    return f"{spec.metric} {best:.4g} at epoch {epoch} was judged hopeless by the {spec.pruner} pruner"
