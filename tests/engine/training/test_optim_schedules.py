"""Warm-up and onecycle, read from the lr each optimizer step really used on a tiny real run."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from engine.config.groups import Config
from engine.states import TrialState
from engine.store import Store
from engine.training.loop import prepare, train
from engine.training.optimizers import warmup_steps
from tests.engine.config.knob_runs import cfg, epochs, finished
from tests.engine.execution.checkpoint_helpers import assert_close, curve
from tests.engine.execution.checkpoint_helpers import run as checkpoint_run
from tests.engine.execution.checkpoint_helpers import toy as checkpointed

# toy2d with 200 samples keeps 140 for training: 5 steps of 32 a epoch.
STEPS_PER_EPOCH = 5


def run(config: Config) -> tuple[list[float], list[float]]:
    """The lr of every optimizer step as the optimizer read it when stepping, and the per-epoch `lr` metric."""
    setup = prepare(config)
    assert setup.steps_per_epoch == STEPS_PER_EPOCH
    used: list[float] = []
    setup.optimizer.register_step_pre_hook(lambda optimizer, *_: used.append(optimizer.param_groups[0]["lr"]))
    events = list(train(config, setup=setup))
    assert finished(events).state is TrialState.COMPLETED, finished(events).reason
    return used, [e.lr for e in epochs(events)]


def toy(**dotted: Any) -> Config:
    return cfg(**{"task.n_samples": 200, "optim.batch_size": 32, "optim.optimizer": "sgd", "optim.lr": 0.1,
                  **dotted})


def test_warmup_ramps_linearly_over_its_steps_then_the_lr_is_the_one_set() -> None:
    used, logged = run(toy(**{"optim.max_epochs": 3, "optim.warmup_epochs": 1.5}))
    ramp = 8  # 1.5 epochs of 5 steps, rounded up to whole steps
    assert len(used) == 15
    assert used[:ramp] == pytest.approx([0.1 * k / ramp for k in range(1, ramp + 1)])
    assert used[ramp:] == pytest.approx([0.1] * 7)
    assert logged == pytest.approx([0.1 * 5 / ramp, 0.1, 0.1])  # each epoch's last step


def test_without_warmup_the_first_step_uses_the_full_lr() -> None:
    used, _ = run(toy(**{"optim.max_epochs": 1}))
    assert used == pytest.approx([0.1] * 5)


def test_an_epoch_scheduler_takes_over_after_the_warmup() -> None:
    used, logged = run(toy(**{"optim.max_epochs": 4, "optim.warmup_epochs": 1.5, "optim.scheduler": "step",
                              "optim.step_size": 1, "optim.gamma": 0.5}))
    assert used[:8] == pytest.approx([0.1 * k / 8 for k in range(1, 9)])
    # Epoch 2 took two steps after the warm-up, at 0.1: the schedule's epoch 0. It steps at the end of it.
    assert used[8:10] == pytest.approx([0.1, 0.1])
    assert used[10:15] == pytest.approx([0.05] * 5) and used[15:] == pytest.approx([0.025] * 5)
    assert logged == pytest.approx([0.0625, 0.1, 0.05, 0.025])


def test_cosine_after_a_whole_warmup_epoch_anneals_over_the_epochs_left() -> None:
    _, logged = run(toy(**{"optim.max_epochs": 5, "optim.warmup_epochs": 1, "optim.scheduler": "cosine"}))
    assert logged[0] == pytest.approx(0.1)  # the warm-up's last step reaches the lr set
    assert logged[1:] == pytest.approx([0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])


def test_onecycle_rises_to_the_lr_then_falls_far_below_it() -> None:
    config = toy(**{"optim.max_epochs": 6, "optim.scheduler": "onecycle", "optim.pct_start": 0.3})
    used, logged = run(config)
    total = 6 * STEPS_PER_EPOCH
    assert len(used) == total
    peak = used.index(max(used))
    assert max(used) == pytest.approx(0.1) and peak == round(0.3 * total) - 1
    assert used[0] == pytest.approx(0.1 / 25)  # torch's div_factor
    assert all(b > a for a, b in zip(used[:peak], used[1:peak + 1]))
    assert all(b < a for a, b in zip(used[peak:], used[peak + 1:]))
    assert used[-1] < 0.1 / 1000
    assert logged == pytest.approx([used[k * STEPS_PER_EPOCH - 1] for k in range(1, 7)])
    assert logged.index(max(logged)) == 1  # per epoch too: up, then down


def test_onecycle_has_no_warmup_of_ours() -> None:
    with_warmup = toy(**{"optim.max_epochs": 2, "optim.scheduler": "onecycle", "optim.warmup_epochs": 1})
    assert not with_warmup.applies("optim.warmup_epochs") and warmup_steps(with_warmup, STEPS_PER_EPOCH) == 0
    assert run(with_warmup)[0] == run(toy(**{"optim.max_epochs": 2, "optim.scheduler": "onecycle"}))[0]
    assert toy(**{"optim.warmup_epochs": 1}).applies("optim.warmup_epochs")


def test_fractional_warmup_counts_whole_steps() -> None:
    assert warmup_steps(toy(**{"optim.warmup_epochs": 0.3}), 10) == 3  # not 4 from 0.3 * 10 = 3.0000000000000004
    assert warmup_steps(toy(**{"optim.warmup_epochs": 0.01}), 10) == 1
    assert warmup_steps(toy(), 10) == 0


@pytest.mark.parametrize("updates", [
    pytest.param({"optim.scheduler": "onecycle"}, id="onecycle"),
    pytest.param({"optim.scheduler": "step", "optim.step_size": 1, "optim.gamma": 0.7, "optim.warmup_epochs": 2.5},
                 id="stopped-within-the-warmup"),
])
def test_a_trial_resumed_from_its_checkpoint_goes_on_with_the_same_lrs(tmp_path: Path, updates: dict) -> None:
    config = checkpointed(**updates)
    with Store(tmp_path / "trials.db") as store:
        whole = checkpoint_run(store, config)
        first = checkpoint_run(store, config, stop_at_epoch=2)
        assert store.requeue(first.trial_id)
        again = checkpoint_run(store, config, trial_id=first.trial_id)
        assert again.finished is not None and again.finished.state is TrialState.COMPLETED
        assert again.resumed_from == 2
        assert_close(curve(store, first.trial_id), curve(store, whole.trial_id), "curve")
        lrs = [row[-1] for row in curve(store, whole.trial_id)]
        assert len(set(lrs)) == len(lrs)  # every epoch its own lr: the schedule moved all the way
