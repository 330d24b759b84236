"""`tunedeck sweeps`: every sweep in the store, with its state, progress and best trial."""
from __future__ import annotations

import argparse

from engine.cli.storeopen import open_store
from engine.events import TrialState
from engine.formatting import render_table

OBJECTIVE_COLUMNS = {"val_loss": "best_val_loss", "val_acc": "best_val_acc"}


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        sweeps = store.sweeps()
        if not sweeps:
            print("no sweeps (run one with `tunedeck sweep PRESET`, or ctrl+g in the cockpit)")
            return 0
        trials = store.trials()
    rows = []
    for s in sweeps:
        metric = s.spec.get("metric", "val_loss")
        maximize = s.spec.get("direction") == "maximize"
        column = OBJECTIVE_COLUMNS.get(metric)
        scored = [t for t in trials if t.sweep_id == s.id and t.state in (TrialState.COMPLETED,
                                                                          TrialState.EARLY_STOPPED)]
        values = [(getattr(t, column), t.id) for t in scored if column and getattr(t, column) is not None]
        best = (max if maximize else min)(values) if values else (None, None)
        rows.append([s.id, s.name, s.spec.get("strategy", "?"), s.state, f"{s.done}/{s.planned}",
                     s.count(TrialState.PRUNED), s.count(TrialState.FAILED, TrialState.DIVERGED),
                     f"{metric} {best[0]:.4g} (#{best[1]})" if best[0] is not None else "-"])
    print(render_table(["id", "name", "strategy", "state", "done", "pruned", "failed", "best"], rows))
    return 0
