"""Each knob has an effect you can see on a tiny real run: regularisation and early stopping here;
class weights and losses in test_knob_losses, optimizers, schedules and clipping in test_knob_optimizers,
activations, the perceptron and the CNN in test_knob_models.

Runs are real and seeded: toy2d or curve with a few hundred points, a few epochs, small widths.
"""
from __future__ import annotations

import pytest
import torch

from engine.config.groups import Config
from engine.events import StepLoss
from engine.states import TrialState
from engine.training.loop import evaluate, prepare, train
from tests.engine.config.knob_runs import cfg, epochs, finished, fit, weights

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
    assert end.summary.val_acc_at_best == 1.0 and end.summary.best_epoch == 1 and end.summary.epochs_run == 4
    assert curve[-1].val_loss < curve[0].val_loss == end.summary.best_val_loss
    assert [e.improved for e in curve] == [True, False, False, False]
    assert evaluate(setup, setup.data.val)[0] == pytest.approx(curve[0].val_loss, rel=1e-6)
