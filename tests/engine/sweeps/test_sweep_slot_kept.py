"""A sweep's slot outlives a trial whose bookkeeping broke: the next point is still asked for and the sweep
still ends (before, an exception in `on_trial` or in telling Optuna left the trial in the running set, its
slot empty and the sweep waiting for it for ever)."""
from __future__ import annotations

import threading

import pytest

from engine.events import TrialFinished
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import SweepState, TrialState
from engine.store import Store
from engine.sweeps.sweep import Sweep
from tests.engine.sweeps.helpers import WAIT, spec_for, sweep_trials, toy


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_sweep_whose_on_trial_raises_still_runs_every_point_and_ends(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 1})
    spec = spec_for(base, strategy="grid", parallel=1, **{"optim.lr": [0.1, 0.03, 0.01]})
    seen: list[int] = []

    def on_trial(trial_id: int, finished: TrialFinished, updates: dict) -> None:
        seen.append(trial_id)
        if len(seen) == 1:
            raise RuntimeError("the caller's hook broke")

    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0), on_trial=on_trial)
    result: list[SweepState] = []
    runner = threading.Thread(target=lambda: result.append(sweep.run()), daemon=True)
    runner.start()
    runner.join(WAIT)
    assert not runner.is_alive(), "the sweep waited for a trial that had ended"
    assert result == [SweepState.COMPLETED]
    trials = sweep_trials(store, sweep.id)
    assert len(trials) == 3 and all(t.state is TrialState.COMPLETED for t in trials)
    assert seen == [t.id for t in trials]
    assert sweep.progress().completed == 3 and sweep.running_ids == []
