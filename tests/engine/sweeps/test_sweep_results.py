"""What a sweep leaves in the store, read back: its trials' names, results and importance, and the
sweep's own record (state, counts, a supervisor that died)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from typing import Any

import pytest

from engine.errors import StoreError
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import TrialState
from engine.store import Store
from engine.sweeps.importance import importance
from engine.sweeps.results import load_results
from engine.sweeps.sweep import Sweep
from tests.engine.sweeps.helpers import spec_for, sweep_trials, toy

# --- names, results, importance ------------------------------------------------------------------------

def test_results_and_importance_after_a_small_random_sweep(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 4})
    spec = spec_for(base, strategy="random", trials=6, seed=3, **{
        "optim.lr": {"low": 1e-4, "high": 0.3, "log": True}, "model.hidden": [[8], [4]]})
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    assert sweep.run() == "completed"
    assert sweep.name == "toy2d-random" and sweep.spec.seed == 3
    trials = sweep_trials(store, sweep.id)
    assert len(trials) == 6 and store.count() == 6
    assert sorted(t.name for t in trials) == sorted(f"toy2d-random #{n}" for n in range(1, 7))

    results = load_results(store, sweep.id)
    assert results.record.id == sweep.id and results.spec.keys() == ["optim.lr", "model.hidden"]
    assert len(results.points) == 6 and len(results.scored) == 6
    for point in results.points:
        stored = store.trial(point.trial_id).config
        assert point.values == {"optim.lr": stored["optim"]["lr"], "model.hidden": tuple(stored["model"]["hidden"])}
    assert {p.trial_id: p.objective for p in results.scored} == pytest.approx(sweep.values)
    assert sweep.best is not None and results.best is not None
    assert results.best.trial_id == sweep.best[0] and results.best.objective == pytest.approx(sweep.best[1])
    assert results.best.objective == min(sweep.values.values())

    xs, ys, labels, log = results.axis("optim.lr")
    assert len(xs) == len(ys) == 6 and labels is None and log
    _, _, labels, log = results.axis("model.hidden")
    assert labels == ["[8]", "[4]"] and not log

    judged = importance(results)  # 6 trials: PED-ANOVA (5 in its top 10 %) cannot judge, fANOVA does
    assert judged.evaluator == "fanova" and judged.trials == 6
    assert judged.note == "by fANOVA over 6 trials (PED-ANOVA needs 50)"
    scores = judged.scores
    assert scores and set(scores) <= {"optim.lr", "model.hidden"}
    assert all(v >= 0 for v in scores.values()) and sum(scores.values()) == pytest.approx(1.0, abs=1e-6)


def test_importance_is_empty_before_two_trials_completed(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 2})
    sweep = Sweep(store, base, spec_for(base, strategy="grid", trials=1, **{"optim.lr": [0.1, 0.01]}),
                  TrialPool(store, ThreadExecutor(), parallel=0))
    sweep.run()
    assert importance(load_results(store, sweep.id)).scores == {}


# --- the sweep's own record ----------------------------------------------------------------------------

def test_sweep_records_their_state_counts_and_a_dead_supervisor(store: Store, run_trial: Any) -> None:
    spec, base = {"strategy": "random", "optim.lr": [0.1]}, toy().to_dict()
    mine = store.create_sweep("mine", spec, base, 3)
    orphan = store.create_sweep("orphan", spec, base, 2)
    alive = store.create_sweep("alive", spec, base, 2)  # supervised by this very process
    run_trial(store, {"optim": {"lr": 0.1}}, sweep_id=mine)
    run_trial(store, {"optim": {"lr": 0.1}}, sweep_id=mine, state=TrialState.PRUNED)
    run_trial(store, sweep_id=mine, start=False)
    record = store.sweep(mine)
    assert (record.name, record.state, record.reason, record.planned) == ("mine", "running", None, 3)
    assert record.spec == spec and record.base == base and record.finished_at is None
    assert record.counts == {"completed": 1, "pruned": 1, "queued": 1} and record.done == 2
    assert record.count(TrialState.QUEUED, TrialState.RUNNING) == 1
    store.set_sweep_state(mine, "paused", "paused by the user")
    assert (store.sweep(mine).state, store.sweep(mine).finished_at) == ("paused", None)
    store.set_sweep_state(mine, "completed", "all 3 trials ran")
    assert store.sweep(mine).finished_at is not None
    with pytest.raises(ValueError, match="is not a valid SweepState"):
        store.set_sweep_state(mine, "done")
    with pytest.raises(StoreError, match="no sweep with id 99"):
        store.sweep(99)
    with pytest.raises(StoreError, match="no sweep with id 99"):
        store.set_sweep_state(99, "stopped")
    assert [s.name for s in store.sweeps()] == ["mine", "orphan", "alive"]
    assert store.sweeps()[0].counts == record.counts and store.sweeps()[1].counts == {}

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    store.close()
    with sqlite3.connect(store.path) as raw:  # as if the sweep's process had died while it ran
        raw.execute("UPDATE sweeps SET pid = ?, proc_start = 'gone' WHERE id = ?", (int(gone.stdout), orphan))
    raw.close()
    with Store(store.path) as reopened:
        dead = reopened.sweep(orphan)
        assert dead.state == "interrupted" and dead.finished_at is not None
        assert f"process {int(gone.stdout)}" in dead.reason and "ended while the sweep ran" in dead.reason
        assert reopened.sweep(mine).state == "completed"  # an ended sweep is left as it was
        assert reopened.sweep(alive).state == "running"  # and a live one goes on
