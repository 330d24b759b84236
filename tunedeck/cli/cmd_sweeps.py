"""`tunedeck sweeps`: every sweep in the store, with its state, progress and best trial."""
from __future__ import annotations

import argparse

from engine.errors import StoreError
from engine.states import TrialState
from engine.sweeps.results import load_results
from engine.tables.formatting import render_table
from tunedeck.cli.storeopen import open_store


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        sweeps = store.sweeps()
        if not sweeps:
            print("no sweeps (run one with `tunedeck sweep PRESET`, or ctrl+g in the cockpit)")
            return 0
        rows = [[s.id, s.name, s.spec.get("strategy", "?"), s.state, f"{s.done}/{s.planned}",
                 s.count(TrialState.PRUNED), s.count_if(lambda state: state.is_failure), _best(store, s.id)]
                for s in sweeps]
    print(render_table(["id", "name", "strategy", "state", "done", "pruned", "failed", "best"], rows))
    return 0


def _best(store, sweep_id: int) -> str:
    """The best trial by the sweep's own objective (its metric's best epoch value), as the sweep judged it."""
    try:
        results = load_results(store, sweep_id)
    except StoreError:  # a sweep stored by another version of tunedeck
        return "-"
    best = results.best
    return f"{results.spec.metric} {best.objective:.4g} (#{best.trial_id})" if best else "-"
