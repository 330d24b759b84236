"""`tunedeck sweeps`: every sweep in the store, with its state, progress and best trial; under the
table, each multi-objective sweep's Pareto front (the trials no other trial beats on every objective)."""
from __future__ import annotations

import argparse
from typing import Any

from engine.errors import StoreError
from engine.states import TrialState
from engine.sweeps.results import SweepResults, load_results
from engine.sweeps.spec import label
from engine.tables.formatting import render_table, safe_text
from tunedeck.cli.storeopen import open_store


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        sweeps = store.sweeps()
        if not sweeps:
            print("no sweeps (run one with `tunedeck sweep PRESET`, or ctrl+g in the cockpit)")
            return 0
        results = {s.id: _results(store, s.id) for s in sweeps}
        rows = [[s.id, s.name, s.spec.get("strategy", "?"), s.state, f"{s.done}/{s.planned}",
                 s.count(TrialState.PRUNED), s.count_if(lambda state: state.is_failure), _best(results[s.id])]
                for s in sweeps]
    print(render_table(["id", "name", "strategy", "state", "done", "pruned", "failed", "best"], rows))
    for r in results.values():
        if r is not None and r.spec.multi:
            print()
            print(front_table(r))
    return 0


def _results(store: Any, sweep_id: int) -> SweepResults | None:
    try:
        return load_results(store, sweep_id)
    except StoreError:  # a sweep stored by another version of tunedeck
        return None


def _best(results: SweepResults | None) -> str:
    """The best trial by the sweep's own objective (its metric's best epoch value), as the sweep judged it;
    for several objectives, how many trials make the front."""
    if results is None:
        return "-"
    if results.spec.multi:
        front = results.front
        return f"front of {len(front)} ({' x '.join(m for m, _ in results.spec.goals)})" if front else "-"
    best = results.best
    return f"{results.spec.metric} {best.objective:.4g} (#{best.trial_id})" if best else "-"


def front_table(results: SweepResults) -> str:
    """A multi-objective sweep's Pareto front: each trial on it, its objectives and its knobs."""
    spec = results.spec
    goals = ", ".join(f"{d[:3]} {m}" for m, d in spec.goals)
    front = results.front
    title = (f"sweep {results.record.id} ({safe_text(results.record.name)}): Pareto front of {len(front)} of "
             f"{len(results.scored)} completed trials ({goals})")
    if not front:
        return title + ": no completed trial yet"
    keys = spec.keys()
    rows = [[p.trial_id, *(p.objectives or ()), *(_knob(p.values.get(k)) for k in keys)] for p in front]
    return title + "\n" + render_table(["trial", *(m for m, _ in spec.goals), *(k.split(".", 1)[-1] for k in keys)],
                                       rows)


def _knob(value: Any) -> Any:
    return label(value) if isinstance(value, (list, tuple)) else value
