"""Optimizers, learning-rate schedules and gradient clipping have an effect you can see on a tiny real run."""
from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from engine.errors import ConfigError
from engine.states import TrialState
from engine.training.loop import prepare, train
from tests.engine.config.knob_runs import cfg, epochs, finished, fit, params

# --- optimizers and schedules ------------------------------------------------------------------


OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"optim.optimizer": "sgd", "optim.lr": 0.05, "optim.momentum": 0.9, "optim.nesterov": True},
    "adam": {"optim.optimizer": "adam", "optim.lr": 0.01},
    "adamw": {"optim.optimizer": "adamw", "optim.lr": 0.01},
    "rmsprop": {"optim.optimizer": "rmsprop", "optim.lr": 0.005, "optim.momentum": 0.5},
    "adagrad": {"optim.optimizer": "adagrad", "optim.lr": 0.1},
}
OPTIMIZER_CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                     "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_trains(name: str) -> None:
    setup, events = fit(cfg(**{"model.hidden": [16], "optim.max_epochs": 5, **OPTIMIZERS[name]}))
    assert type(setup.optimizer) is OPTIMIZER_CLASSES[name]
    group = setup.optimizer.param_groups[0]
    for key in ("momentum", "nesterov"):
        dotted = f"optim.{key}"
        if dotted in OPTIMIZERS[name]:
            assert group[key] == OPTIMIZERS[name][dotted]
    end = finished(events)
    assert end.state is TrialState.COMPLETED
    curve = epochs(events)
    assert curve[-1].train_loss < 0.5 * curve[0].train_loss
    assert end.summary.test_acc is not None and end.summary.test_acc > 0.9


def test_sgd_momentum_changes_the_trajectory() -> None:
    base = cfg(**{"optim.optimizer": "sgd", "optim.lr": 0.05})
    plain = [e.train_loss for e in epochs(fit(base)[1])]
    heavy = [e.train_loss for e in epochs(fit(base.with_updates({"optim.momentum": 0.9}))[1])]
    assert heavy != plain


def lrs(**dotted: Any) -> list[float]:
    events = fit(cfg(**{"model.kind": "perceptron", "optim.lr": 0.1, **dotted}))[1]
    assert finished(events).state is TrialState.COMPLETED
    return [e.lr for e in epochs(events)]


def test_without_a_scheduler_the_lr_stays_put() -> None:
    assert lrs(**{"optim.max_epochs": 4}) == [0.1] * 4


def test_step_schedule_drops_by_gamma_every_step_size_epochs() -> None:
    got = lrs(**{"optim.max_epochs": 5, "optim.scheduler": "step", "optim.step_size": 2, "optim.gamma": 0.5})
    assert got == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_cosine_schedule_anneals_over_max_epochs() -> None:
    got = lrs(**{"optim.max_epochs": 5, "optim.scheduler": "cosine"})
    assert got[0] == 0.1
    assert all(b < a for a, b in zip(got, got[1:]))
    assert got == pytest.approx([0.1 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(5)])


def test_plateau_schedule_drops_the_lr_once_val_loss_stalls() -> None:
    # An lr of 1e-6 moves the val loss by far less than the plateau threshold: every epoch stalls.
    config = cfg(**{"task.name": "curve", "task.n_samples": 100, "optim.lr": 1e-6, "optim.max_epochs": 6,
                    "optim.scheduler": "plateau", "optim.factor": 0.5, "optim.plateau_patience": 1})
    got = [e.lr for e in epochs(fit(config)[1])]
    assert got == pytest.approx([1e-6, 1e-6, 1e-6, 5e-7, 5e-7, 2.5e-7])


def test_plateau_schedule_keeps_the_lr_while_val_loss_improves() -> None:
    got = lrs(**{"optim.optimizer": "sgd", "optim.lr": 0.05, "optim.max_epochs": 6,
                 "optim.scheduler": "plateau", "optim.plateau_patience": 1})
    assert got == [0.05] * 6


def test_grad_clip_bounds_each_update() -> None:
    # Plain SGD with lr 1: each step moves the parameters by exactly the (clipped) gradient.
    def moved(grad_clip: float) -> tuple[float, int]:
        config = cfg(**{"model.kind": "perceptron", "optim.optimizer": "sgd", "optim.lr": 1.0,
                        "optim.max_epochs": 1, "optim.grad_clip": grad_clip})
        setup = prepare(config)
        before = params(setup.model).clone()
        end = finished(list(train(config, setup=setup)))
        assert end.state is TrialState.COMPLETED
        return float((params(setup.model) - before).norm()), end.summary.steps

    clipped, steps = moved(0.01)
    free, _ = moved(0.0)
    assert clipped <= steps * 1.0 * 0.01 + 1e-6
    assert free > 10 * steps * 0.01


@pytest.mark.parametrize("warmup, max_epochs", [(3.0, 3), (5.0, 3), (20.0, 20)])
def test_a_warmup_that_does_not_end_before_the_last_epoch_is_refused(warmup: float, max_epochs: int) -> None:
    with pytest.raises(ConfigError) as err:
        cfg(**{"optim.warmup_epochs": warmup, "optim.max_epochs": max_epochs})
    message = str(err.value)
    assert err.value.key == "optim.warmup_epochs" and "\n" not in message
    assert message.startswith("optim.warmup_epochs: must end before the last epoch")
    assert f"optim.max_epochs, which is {max_epochs}" in message and f"{warmup:g}" in message


def test_a_warmup_shorter_than_the_run_or_under_onecycle_is_accepted() -> None:
    assert cfg(**{"optim.warmup_epochs": 2.5, "optim.max_epochs": 3}).optim.warmup_epochs == 2.5
    onecycle = cfg(**{"optim.scheduler": "onecycle", "optim.warmup_epochs": 5.0, "optim.max_epochs": 3})
    assert not onecycle.applies("optim.warmup_epochs")
