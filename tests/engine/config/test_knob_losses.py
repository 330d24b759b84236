"""Class weights and losses have an effect you can see on a tiny real run: the minority class counts,
and each loss trains and is the loss reported."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.states import TrialState
from engine.tasks.base import BINARY, MULTICLASS, Split, TaskData
from engine.training.loop import prepare
from tests.engine.config.knob_runs import cfg, epochs, finished, fit

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
