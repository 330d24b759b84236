"""A sweep stopped in the middle of a trial, or whose trial's process died, goes on with that trial
from its checkpoint when the sweep is resumed: the same trial id, no new trial for its point, and
the planned number of trials in all. Real training of tiny toy2d trials, one at a time."""
from __future__ import annotations

import pytest

from engine.config.groups import Config
from engine.events import EpochEnded
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import TrialState
from engine.store import Store
from engine.sweeps.results import load_results
from engine.sweeps.spec import parse_search
from engine.sweeps.sweep import Sweep
from engine.training.checkpoint import BEST, LAST
from tests.engine.execution.checkpoint_helpers import EPOCHS, assert_close, curve, kinds, run, summary, toy

STOP_AT = 3
DECAYS = [0.0, 1e-6, 1e-5]


def pool(store: Store) -> TrialPool:
    return TrialPool(store, ThreadExecutor(), parallel=0)


@pytest.mark.parametrize("ended", ["cancelled", "interrupted"])
def test_a_sweep_stopped_mid_trial_goes_on_with_that_trial_from_its_checkpoint(
        store: Store, tmp_path, monkeypatch: pytest.MonkeyPatch, ended: str) -> None:
    """Adam at lr 0.3 overshoots: each point's best val_loss is at epoch 2 and later epochs are worse,
    so the resumed trial's objective is right only if its epochs before the checkpoint count too.
    The sweep is stopped from its judge (a median pruner that never prunes: 100 startup trials), which
    the trainer asks synchronously after each epoch, so it stops exactly after epoch 3."""
    base = toy(**{"optim.lr": 0.3, "optim.scheduler": "none"})
    spec = parse_search({"strategy": "grid", "pruner": "median", "startup_trials": 100,
                         "reg.weight_decay": DECAYS}, base)
    first = Sweep(store, base, spec, pool(store))
    judged = first._judge

    def judge(trial_id: int, event: EpochEnded) -> str | None:
        if event.epoch == STOP_AT:
            first.stop("stopped by the test")
        return judged(trial_id, event)

    monkeypatch.setattr(first, "_judge", judge)
    assert first.run() == "stopped"
    (stopped,) = store.trials(sweep_id=first.id)
    assert stopped.state is TrialState.CANCELLED and stopped.epochs_run == STOP_AT
    assert kinds(store, stopped.id)[LAST] == [STOP_AT, STOP_AT - 1]
    if ended == "interrupted":  # as the store's recovery marks the trial of a process that died
        store.mark_finished(stopped.id, TrialState.INTERRUPTED, "process 1 on elsewhere ended while the trial ran")

    again = Sweep.resumed(store, first.id, pool(store))
    assert again.run() == "completed"
    trials = store.trials(sweep_id=first.id)
    assert len(trials) == spec.planned == len(DECAYS)
    assert trials[0].id == stopped.id and trials[0].name == stopped.name
    assert sorted(t.config["reg"]["weight_decay"] for t in trials) == DECAYS  # each point once
    assert [t.state for t in trials] == [TrialState.COMPLETED] * len(DECAYS)
    assert store.sweep(first.id).reason == f"all {len(DECAYS)} trials ran"
    assert again.progress().done == len(DECAYS)

    resumed = store.trial(stopped.id)
    assert [r["epoch"] for r in resumed.run_info["resumed"]] == [STOP_AT]
    assert kinds(store, stopped.id) == {BEST: [resumed.best_epoch]}
    with Store(tmp_path / "reference.db") as other:  # the same point, never stopped
        uninterrupted = run(other, Config.from_dict(stopped.config)).trial_id
        assert_close(curve(store, stopped.id), curve(other, uninterrupted), "epochs")
        assert_close(summary(store, stopped.id), summary(other, uninterrupted), "summary")

    # The trial's objective is its best epoch over the whole trial, before the checkpoint too.
    val_losses = [row["val_loss"] for row in store.epochs(stopped.id)]
    assert len(val_losses) == EPOCHS and val_losses.index(min(val_losses)) + 1 < STOP_AT
    assert again.values[stopped.id] == min(val_losses)
    assert {p.trial_id: p.objective for p in load_results(store, first.id).points}[stopped.id] == min(val_losses)
    assert again.best is not None and again.best[1] == min(again.values.values())
