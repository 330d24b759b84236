"""A trial of a running sweep lost from outside (its worker died, it was stopped by hand) does not
count as one of the planned trials: the sweep ends stopped, saying so, and resuming it runs that trial
again, up to the plan. (It used to end "completed: the grid was used up" for a random search.)"""
from __future__ import annotations

import threading

from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import SweepState, TrialState
from engine.store import Store
from engine.sweeps.sweep import Sweep
from tests.engine.sweeps.helpers import spec_for, sweep_trials, toy, wait_until


def test_a_trial_lost_mid_sweep_leaves_it_stopped_and_a_resume_runs_it_again(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 400, "task.n_samples": 2000, "early_stop.patience": 0})
    spec = spec_for(base, strategy="random", trials=2, parallel=1, seed=0,
                    **{"optim.lr": {"low": 1e-3, "high": 1e-1, "log": True}})
    pool = TrialPool(store, ThreadExecutor(), parallel=1)
    sweep = Sweep(store, base, spec, pool)
    ended: list[SweepState] = []
    runner = threading.Thread(target=lambda: ended.append(sweep.run()))
    runner.start()
    wait_until(lambda: bool(pool.running_ids()) and sweep_trials(store, sweep.id)[0].epochs_run > 0,
               "the sweep's first trial trains")
    (first,) = pool.running_ids()
    assert pool.cancel(first, "its worker was lost (the test)", TrialState.INTERRUPTED)
    runner.join(timeout=120)
    assert not runner.is_alive() and ended == [SweepState.STOPPED]

    record = store.sweep(sweep.id)
    assert record.state == SweepState.STOPPED and record.done == 1
    assert record.reason is not None and record.reason.startswith("1 of 2 trials ran; 1 interrupted or cancelled")
    assert "resuming the sweep runs them again" in record.reason

    again = Sweep.resumed(store, sweep.id, TrialPool(store, ThreadExecutor(), parallel=1))
    assert again.run() == SweepState.COMPLETED
    states = sorted(t.state.value for t in sweep_trials(store, sweep.id))
    assert store.sweep(sweep.id).done == 2 and states.count("interrupted") == 1
    assert store.sweep(sweep.id).reason == "all 2 trials ran"
