"""A trial's objective values as a sweep judges them, and the Pareto front of a multi-objective sweep.

One definition each, used by the running sweep, by its results read back from the store, and by
`tunedeck sweeps`: an epoch metric counts at its best epoch in its direction, `params` is the
trained model's parameter count, `epoch_time` the mean seconds per epoch.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

EPOCH_SECONDS = "epoch_seconds"  # how the store names an epoch's time


def best_value(epochs: Mapping[int, float], direction: str) -> float | None:
    """The objective of an epoch metric: its best epoch value in the sweep's direction."""
    if not epochs:
        return None
    return min(epochs.values()) if direction == "minimize" else max(epochs.values())


def epoch_values(store: Any, ids: list[int], metric: str) -> dict[int, dict[int, float]]:
    """Each trial's metric per epoch (finite values only), for the objective and the pruner."""
    out: dict[int, dict[int, float]] = {}
    for trial_id, epoch, _step, _metric, value in store.history(ids, metric=metric):
        if value is not None and math.isfinite(value):
            out.setdefault(trial_id, {})[epoch] = value
    return out


def objective_values(store: Any, trials: Sequence[Any], goals: Sequence[tuple[str, str]]) -> dict[int, tuple[float, ...]]:
    """Each trial's value of every objective, for the trials (store records) that have all of them."""
    ids = [t.id for t in trials]
    columns: list[dict[int, float]] = []
    for metric, direction in goals:
        if metric == "params":
            columns.append({t.id: float(t.n_params) for t in trials if t.n_params is not None})
        elif metric == "epoch_time":
            per = epoch_values(store, ids, EPOCH_SECONDS)
            columns.append({t: sum(e.values()) / len(e) for t, e in per.items() if e})
        else:
            per = epoch_values(store, ids, metric)
            columns.append({t: v for t, e in per.items() if (v := best_value(e, direction)) is not None})
    return {i: tuple(c[i] for c in columns) for i in ids if all(i in c for c in columns)}


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """`a` is no worse than `b` in every objective and better in one."""
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    no_worse = all(s * x <= s * y for s, x, y in zip(signs, a, b))
    return no_worse and any(s * x < s * y for s, x, y in zip(signs, a, b))


def pareto_front(values: Mapping[int, Sequence[float]], directions: Sequence[str]) -> list[int]:
    """The trials no other trial dominates (ties all stay), in the order of the first objective."""
    front = [i for i, v in values.items() if not any(dominates(w, v, directions) for j, w in values.items() if j != i)]
    sign = 1.0 if directions[0] == "minimize" else -1.0
    return sorted(front, key=lambda i: (sign * values[i][0], i))
