"""Label smoothing with class weights aims at the smoothed targets whatever the weights, and the val and
test losses are measured without it, so trials with different smoothing compare on one scale."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from engine.states import TrialState
from engine.tasks.base import MULTICLASS, Split, TaskData
from engine.training.loop import evaluate, prepare
from tests.engine.config.knob_runs import cfg, epochs, finished, fit
from tests.engine.training.test_optim_knobs import three_classes

COUNTS = [1000, 30, 1]  # very unequal: balanced weights 1/1000, 1/30, 1


def unequal_classes() -> TaskData:
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 2, generator=gen), torch.tensor([0, 1, 2, 0, 1, 2])
    return TaskData(Split(x, y), Split(x, y), Split(x, y), problem=MULTICLASS, input_shape=(2,), n_classes=3,
                    class_counts=COUNTS)


def smoothed_loss(eps: float):
    config = cfg(**{"model.kind": "perceptron", "optim.class_weights": "balanced", "optim.label_smoothing": eps})
    return prepare(config, unequal_classes()).loss_fn


@pytest.mark.parametrize("target", [0, 1, 2])
def test_the_optimum_is_the_smoothed_target_whatever_the_class_weights(target: int) -> None:
    eps, k = 0.3, 3
    loss_fn = smoothed_loss(eps)
    logits = torch.zeros(1, k, requires_grad=True)
    optimizer = torch.optim.LBFGS([logits], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(logits, torch.tensor([target]))
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    expected = torch.full((k,), eps / k)
    expected[target] += 1 - eps
    assert torch.softmax(logits.detach()[0], dim=-1).tolist() == pytest.approx(expected.tolist(), abs=1e-3)


def test_samples_count_by_their_true_class_weight_as_in_the_weighted_mean() -> None:
    eps = 0.2
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, -1.0, 0.0]])
    y = torch.tensor([0, 1, 2, 2])
    log_p = torch.log_softmax(logits, dim=-1)
    per_sample = -(1 - eps) * log_p[torch.arange(4), y] - eps * log_p.mean(dim=-1)
    w = (1.0 / torch.tensor(COUNTS, dtype=torch.float32))[y]
    assert float(smoothed_loss(eps)(logits, y)) == pytest.approx(float((w * per_sample).sum() / w.sum()), rel=1e-5)
    # without smoothing it is the weighted cross-entropy, as before
    plain = F.cross_entropy(logits, y, weight=1.0 / torch.tensor(COUNTS, dtype=torch.float32))
    assert float(prepare(cfg(**{"model.kind": "perceptron", "optim.class_weights": "balanced"}),
                         unequal_classes()).loss_fn(logits, y)) == pytest.approx(float(plain), rel=1e-6)


def test_val_and_test_losses_are_measured_without_smoothing(tmp_path: Path) -> None:
    config = three_classes(tmp_path).with_updates({"optim.label_smoothing": 0.3, "optim.max_epochs": 4})
    setup, events = fit(config)
    end = finished(events)
    assert end.state is TrialState.COMPLETED
    val, test = setup.data.val, setup.data.test
    assert isinstance(val, Split) and isinstance(test, Split) and end.summary.best_epoch is not None
    setup.model.eval()
    with torch.no_grad():
        test_logits, val_logits = setup.model(test.x), setup.model(val.x)
    # the trained model holds the best epoch's weights: the ones its test loss was measured with
    assert end.summary.test_loss == pytest.approx(float(F.cross_entropy(test_logits, test.y)), rel=1e-5)
    val_loss, _ = evaluate(setup, val, "val")
    assert val_loss == pytest.approx(float(F.cross_entropy(val_logits, val.y)), rel=1e-5)
    assert val_loss < float(setup.loss_fn(val_logits, val.y)) - 0.1  # training still smooths
    best = epochs(events)[end.summary.best_epoch - 1]
    assert best.val_loss == pytest.approx(val_loss, rel=1e-5) and best.val_loss == end.summary.best_val_loss
