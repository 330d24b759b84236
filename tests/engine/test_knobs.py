"""Each knob has an effect you can see on a tiny real run: regularisation, early stopping, class
weights, optimizers, schedules, clipping, losses, activations and the CNN.

Runs are real and seeded: toy2d or curve with a few hundred points, a few epochs, small widths.
"""
from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.config.groups import Config
from engine.events import EpochEnded, Event, StepLoss, TrialFinished, TrialStarted, TrialState
from engine.training.models import CharCNN
from engine.tasks.base import BINARY, MULTICLASS, Split, TaskData
from engine.training.loop import Setup, evaluate, prepare, train


def cfg(**dotted: Any) -> Config:
    """A Config from dotted keys; small toy2d on the CPU (also on a GPU box) by default."""
    base = Config.from_dict({"task": {"n_samples": 300}, "optim": {"max_epochs": 3}, "run": {"device": "cpu"}})
    return base.with_updates(dotted)


def fit(config: Config, data: TaskData | None = None) -> tuple[Setup, list[Event]]:
    """Train for real and keep the setup, so the test can look at the trained model."""
    setup = prepare(config, data)
    return setup, list(train(config, setup=setup))


def epochs(events: list[Event]) -> list[EpochEnded]:
    return [e for e in events if isinstance(e, EpochEnded)]


def finished(events: list[Event]) -> TrialFinished:
    last = events[-1]
    assert isinstance(last, TrialFinished)
    return last


def weights(model: nn.Module) -> torch.Tensor:
    """Every weight matrix and kernel (not the biases), flattened."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.dim() > 1])


def params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


# --- regularisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_weight_decay_lowers_the_final_weight_norm(optimizer: str) -> None:
    def norm(weight_decay: float) -> float:
        config = cfg(**{"model.hidden": [16], "optim.optimizer": optimizer, "optim.max_epochs": 10,
                        "optim.lr": 0.05 if optimizer == "sgd" else 0.01, "reg.weight_decay": weight_decay})
        setup, events = fit(config)
        assert finished(events).state is TrialState.COMPLETED
        return float(weights(setup.model).norm())

    plain, decayed = norm(0.0), norm(0.5)
    assert decayed < 0.9 * plain


def test_l1_drives_weights_to_zero() -> None:
    def near_zero(l1: float) -> tuple[int, float]:
        config = cfg(**{"model.hidden": [32], "optim.optimizer": "sgd", "optim.lr": 0.1,
                        "optim.max_epochs": 15, "reg.l1": l1})
        setup, events = fit(config)
        end = finished(events)
        assert end.state is TrialState.COMPLETED
        assert end.summary.test_acc is not None and end.summary.test_acc > 0.9  # still fits the data
        return int((weights(setup.model).abs() < 1e-2).sum()), float(weights(setup.model).abs().sum())

    (plain_zeros, plain_l1), (sparse_zeros, sparse_l1) = near_zero(0.0), near_zero(0.03)
    assert sparse_zeros >= plain_zeros + 15
    assert sparse_l1 < 0.8 * plain_l1


def test_the_l1_term_is_not_part_of_the_reported_losses() -> None:
    # The penalty shapes the gradient only; the logged losses stay comparable across l1 settings.
    # With a vanishing lr the weights stay put, so the epoch's train loss is the initial model's.
    config = cfg(**{"optim.optimizer": "sgd", "optim.lr": 1e-9, "optim.max_epochs": 1, "reg.l1": 5.0,
                    "run.log_every": 1})
    setup = prepare(config)
    penalty = 5.0 * float(weights(setup.model).abs().sum())
    assert penalty > 1.0
    initial_train, _ = evaluate(setup, setup.data.train)
    initial_val, _ = evaluate(setup, setup.data.val)
    events = list(train(config, setup=setup))
    last = epochs(events)[-1]
    assert last.train_loss == pytest.approx(initial_train, rel=1e-4)
    assert last.val_loss == pytest.approx(initial_val, rel=1e-4)
    assert all(s.loss < initial_train + penalty / 2 for s in events if isinstance(s, StepLoss))


def test_dropout_is_random_in_training_and_off_in_evaluation() -> None:
    config = cfg(**{"model.hidden": [32], "reg.dropout": 0.5, "optim.max_epochs": 1})
    setup = prepare(config)
    x = setup.data.val.x
    setup.model.train()
    assert not torch.equal(setup.model(x), setup.model(x))
    setup.model.eval()
    assert torch.equal(setup.model(x), setup.model(x))

    # The loop scores in eval mode: its val loss is what a deterministic evaluation gives.
    events = list(train(config, setup=setup))
    val_loss = epochs(events)[-1].val_loss
    assert evaluate(setup, setup.data.val)[0] == val_loss
    assert evaluate(setup, setup.data.val)[0] == val_loss
    assert evaluate(setup, setup.data.test)[0] == finished(events).summary.test_loss


def test_dropout_changes_the_training_curve() -> None:
    base = cfg(**{"model.hidden": [32], "optim.max_epochs": 2})
    plain = [e.train_loss for e in epochs(fit(base)[1])]
    dropped = [e.train_loss for e in epochs(fit(base.with_updates({"reg.dropout": 0.5}))[1])]
    assert plain != dropped


# --- early stopping ----------------------------------------------------------------------------


def overfitting(restore_best: bool) -> Config:
    """A wide MLP on 42 noisy curve points: the val loss bottoms out and rises within 20 epochs."""
    return Config.from_dict({
        "task": {"name": "curve", "n_samples": 60, "noise": 0.5},
        "model": {"hidden": [64, 64]},
        "optim": {"lr": 0.01, "batch_size": 16, "max_epochs": 300},
        "early_stop": {"patience": 5, "restore_best": restore_best},
        "run": {"device": "cpu"},
    })


def test_patience_stops_early_and_restores_the_best_weights() -> None:
    setup, events = fit(overfitting(restore_best=True))
    end = finished(events)
    assert end.state is TrialState.EARLY_STOPPED
    s = end.summary
    assert s.epochs_run < 300
    improved = [e.epoch for e in epochs(events) if e.improved]
    assert s.best_epoch == improved[-1]
    assert s.epochs_run == s.best_epoch + 5  # exactly `patience` epochs without improvement
    assert "patience 5" in end.reason and "weights restored" in end.reason
    assert f"at epoch {s.best_epoch}" in end.reason
    last_val = epochs(events)[-1].val_loss
    assert s.best_val_loss is not None and s.best_val_loss < last_val  # it really overfitted

    # The final model is the best epoch's: its val loss is the best one, and test was scored with it.
    assert evaluate(setup, setup.data.val)[0] == pytest.approx(s.best_val_loss, rel=1e-6)
    assert evaluate(setup, setup.data.test)[0] == pytest.approx(s.test_loss, rel=1e-6)


def test_without_restore_best_the_last_weights_are_kept_and_scored() -> None:
    restored = finished(fit(overfitting(restore_best=True))[1])
    setup, events = fit(overfitting(restore_best=False))
    end = finished(events)
    assert end.state is TrialState.EARLY_STOPPED
    assert "restored" not in end.reason
    assert end.summary.epochs_run == restored.summary.epochs_run  # same seed, same run
    assert evaluate(setup, setup.data.val)[0] == pytest.approx(epochs(events)[-1].val_loss, rel=1e-6)
    assert evaluate(setup, setup.data.test)[0] == pytest.approx(end.summary.test_loss, rel=1e-6)
    assert end.summary.test_loss != pytest.approx(restored.summary.test_loss, rel=1e-3)


def test_min_delta_ignores_improvements_smaller_than_it() -> None:
    end = finished(fit(cfg(**{"optim.max_epochs": 20, "early_stop.patience": 2,
                             "early_stop.min_delta": 10.0}))[1])
    assert end.state is TrialState.EARLY_STOPPED
    assert end.summary.best_epoch == 1 and end.summary.epochs_run == 3
    assert "by more than 10 for 2 epochs" in end.reason


def test_monitoring_val_acc_stops_once_accuracy_stops_rising() -> None:
    # toy2d's clouds are separable: accuracy is 1.0 after the first epoch and cannot improve, while
    # the val loss keeps falling (monitoring val_loss would run on).
    config = cfg(**{"model.hidden": [16], "optim.lr": 0.05, "optim.max_epochs": 50,
                    "early_stop.patience": 3, "early_stop.monitor": "val_acc"})
    setup, events = fit(config)
    end = finished(events)
    curve = epochs(events)
    assert end.state is TrialState.EARLY_STOPPED
    assert end.reason.startswith("val_acc did not improve") and "best val_acc 1.0000 at epoch 1" in end.reason
    assert end.summary.best_val_acc == 1.0 and end.summary.best_epoch == 1 and end.summary.epochs_run == 4
    assert curve[-1].val_loss < curve[0].val_loss == end.summary.best_val_loss
    assert [e.improved for e in curve] == [True, False, False, False]
    assert evaluate(setup, setup.data.val)[0] == pytest.approx(curve[0].val_loss, rel=1e-6)


# --- class weights -----------------------------------------------------------------------------


def imbalanced() -> TaskData:
    """Two overlapping clouds, nine points of class 0 for each of class 1."""
    gen = torch.Generator().manual_seed(0)

    def split(n_major: int, n_minor: int) -> Split:
        x = torch.cat([torch.randn(n_major, 2, generator=gen), torch.randn(n_minor, 2, generator=gen) + 1.0])
        y = torch.cat([torch.zeros(n_major, dtype=torch.long), torch.ones(n_minor, dtype=torch.long)])
        return Split(x, y)

    train_split = split(270, 30)
    return TaskData(train_split, split(90, 10), split(90, 10), problem=BINARY, input_shape=(2,), n_classes=2,
                    class_counts=torch.bincount(train_split.y).tolist())


@pytest.mark.parametrize("loss", ["bce_with_logits", "cross_entropy"])
def test_balanced_class_weights_make_the_minority_class_count(loss: str) -> None:
    def minority_recall(class_weights: str) -> tuple[float, float]:
        data = imbalanced()
        config = cfg(**{"model.kind": "perceptron", "optim.lr": 0.05, "optim.max_epochs": 10,
                        "optim.loss": loss, "optim.class_weights": class_weights})
        setup, events = fit(config, data)
        assert finished(events).state is TrialState.COMPLETED
        setup.model.eval()
        with torch.no_grad():
            out = setup.model(data.train.x)
        predicted = (out.reshape(-1) > 0).long() if out.shape[-1] == 1 else out.argmax(dim=-1)
        minority = data.train.y == 1
        return float((predicted[minority] == 1).float().mean()), epochs(events)[0].train_loss

    plain_recall, plain_loss = minority_recall("none")
    balanced_recall, balanced_loss = minority_recall("balanced")
    assert plain_recall < 0.3  # unweighted, the model mostly says "class 0"
    assert balanced_recall > 0.6
    assert balanced_loss != pytest.approx(plain_loss, rel=1e-3)


def test_balanced_cross_entropy_weighs_each_class_by_inverse_frequency() -> None:
    # Three classes, 60/30/10 in train: a constant model's loss per class, weighted by 1/count.
    gen = torch.Generator().manual_seed(0)
    y = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    x = torch.randn(100, 2, generator=gen)
    data = TaskData(Split(x, y), Split(x, y), Split(x, y), problem=MULTICLASS, input_shape=(2,), n_classes=3,
                    class_counts=[60, 30, 10])
    setup = prepare(cfg(**{"model.kind": "perceptron", "optim.class_weights": "balanced"}), data)
    logits = torch.tensor([[2.0, 0.0, -1.0]]).expand(100, 3)
    per_sample = F.cross_entropy(logits, y, reduction="none")
    w = 1.0 / torch.tensor([60.0, 30.0, 10.0])
    expected = (w[y] * per_sample).sum() / w[y].sum()
    assert float(setup.loss_fn(logits, y)) == pytest.approx(float(expected), rel=1e-6)
    assert float(setup.loss_fn(logits, y)) != pytest.approx(float(per_sample.mean()), rel=1e-3)


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


# --- losses ------------------------------------------------------------------------------------


REFERENCE_LOSSES = {
    "cross_entropy": lambda out, y: F.cross_entropy(out, y),
    "bce_with_logits": lambda out, y: F.binary_cross_entropy_with_logits(out.reshape(-1), y.float()),
    "auto": lambda out, y: F.binary_cross_entropy_with_logits(out.reshape(-1), y.float()),
    "mse": F.mse_loss,
    "huber": F.huber_loss,
    "l1": F.l1_loss,
}


@pytest.mark.parametrize(("task", "loss", "outputs"), [
    ("toy2d", "cross_entropy", 2), ("toy2d", "bce_with_logits", 1), ("toy2d", "auto", 1),
    ("curve", "mse", 1), ("curve", "huber", 1), ("curve", "l1", 1),
])
def test_each_loss_trains_and_is_the_loss_reported(task: str, loss: str, outputs: int) -> None:
    config = cfg(**{"task.name": task, "optim.loss": loss, "optim.max_epochs": 4, "optim.lr": 0.01,
                    "early_stop.restore_best": False})
    setup, events = fit(config)
    end = finished(events)
    assert end.state is TrialState.COMPLETED
    curve = epochs(events)
    assert curve[-1].train_loss < curve[0].train_loss
    setup.model.eval()
    x, y = setup.data.val.x, setup.data.val.y
    with torch.no_grad():
        out = setup.model(x)
    assert out.shape[-1] == outputs
    assert curve[-1].val_loss == pytest.approx(float(REFERENCE_LOSSES[loss](out, y)), rel=1e-5)


# --- models ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("activation", "module"), [
    ("relu", nn.ReLU), ("tanh", nn.Tanh), ("elu", nn.ELU), ("gelu", nn.GELU),
])
def test_each_mlp_activation_trains(activation: str, module: type) -> None:
    config = cfg(**{"model.hidden": [16, 8], "model.activation": activation, "optim.lr": 0.01,
                    "optim.max_epochs": 5})
    setup, events = fit(config)
    assert sum(isinstance(m, module) for m in setup.model.modules()) == 2
    end = finished(events)
    assert end.state is TrialState.COMPLETED
    assert end.summary.test_acc is not None and end.summary.test_acc > 0.9


def test_the_perceptron_is_one_linear_layer_and_learns_toy2d() -> None:
    setup, events = fit(cfg(**{"model.kind": "perceptron", "optim.lr": 0.05, "optim.max_epochs": 5}))
    linear = [m for m in setup.model.modules() if isinstance(m, nn.Linear)]
    assert len(linear) == 1 and linear[0].in_features == 2 and linear[0].out_features == 1
    assert isinstance(events[0], TrialStarted) and events[0].n_params == 3
    end = finished(events)
    assert end.state is TrialState.COMPLETED
    assert end.summary.test_acc is not None and end.summary.test_acc > 0.9


def names_csv(path: Path) -> Path:
    """Surname-like strings: class a is spelled with a-e, class z with v-z."""
    rng = random.Random(0)
    rows = ["name,nat"]
    for i in range(80):
        label = "a" if i % 2 else "z"
        letters = "abcde" if label == "a" else "vwxyz"
        rows.append("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) + f",{label}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_cnn_trains_on_a_char_matrix_text_csv(tmp_path: Path) -> None:
    config = Config.from_dict({
        "task": {"name": "text-csv", "path": str(names_csv(tmp_path / "names.csv")), "text_column": "name",
                 "label_column": "nat", "vectorizer": "char-matrix"},
        "model": {"kind": "cnn", "channels": 8, "kernel_size": 2, "conv_layers": 2},
        "optim": {"lr": 0.01, "max_epochs": 6, "batch_size": 16},
        "run": {"device": "cpu"},
    })
    setup, events = fit(config)
    assert isinstance(setup.model, CharCNN)
    started = events[0]
    assert isinstance(started, TrialStarted)
    assert started.info["vectorizer"] == "char-matrix" and started.problem == "binary"
    assert started.n_train + started.n_val + started.n_test == 80
    end = finished(events)
    assert end.state is TrialState.COMPLETED
    curve = epochs(events)
    assert curve[-1].train_loss < curve[0].train_loss
    assert end.summary.test_acc is not None and end.summary.test_acc >= 0.8
    assert any(isinstance(e, StepLoss) for e in events)
