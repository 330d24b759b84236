"""A sweep's progress as the store tells it, for whoever shows a sweep it does not run itself.

The cockpit re-attached to a supervisor, `tunedeck status` and `tunedeck sweeps` read the same
numbers the running sweep counts in memory: trials done of planned, running, pruned, failed,
cancelled, the best trial by the sweep's objective, and an ETA from the mean trial time so far.
"""
from __future__ import annotations

from engine.states import SweepState, TrialState
from engine.store import Store
from engine.sweeps.results import load_results
from engine.sweeps.sweep import SweepProgress, outcome


def stored_progress(store: Store, sweep_id: int) -> SweepProgress:
    results = load_results(store, sweep_id)
    record = results.record
    counts = {"completed": 0, "pruned": 0, "failed": 0, "cancelled": 0}
    durations: list[float] = []
    running = 0
    trials = store.trials(sweep_id=sweep_id)
    for t in trials:
        if t.state is TrialState.RUNNING:
            running += 1
        elif t.state.is_finished:
            counts[outcome(t.state)] += 1
            if t.state.counts_toward_plan and t.duration_s is not None:
                durations.append(t.duration_s)
    done = sum(counts.values()) - counts["cancelled"]
    eta = None
    if durations and record.state == SweepState.RUNNING:
        eta = max(0, record.planned - done) * (sum(durations) / len(durations)) / max(1, results.spec.parallel)
    best = results.best
    return SweepProgress(record.state, record.planned, done, running, counts["completed"], counts["pruned"],
                         counts["failed"], counts["cancelled"], best.objective if best else None,
                         best.trial_id if best else None, eta)
