"""Each model knob has an effect you can see on a tiny real run: MLP activations, the perceptron, the CNN."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from torch import nn

from engine.config.groups import Config
from engine.events import StepLoss, TrialStarted
from engine.states import TrialState
from engine.training.models import CharCNN
from tests.engine.config.knob_runs import cfg, epochs, finished, fit

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
