"""Label smoothing, Adam's betas and eps: what each does on a tiny real run, how each is refused, and each
new optim knob through presets and `--set`."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.config.groups import Config
from engine.config.presets import load_config_text, load_preset, save_preset, to_toml
from engine.errors import ConfigError
from engine.states import TrialState
from engine.training.loop import prepare, train
from tests.engine.config.knob_runs import cfg, epochs, finished, fit


def three_classes(tmp_path: Path) -> Config:
    """A small three-class text task (each label has its cue word, plus noise words)."""
    rng = random.Random(0)
    lines = ["text,label"]
    for _ in range(150):
        label = rng.choice("abc")
        lines.append(f"{'cue' + label} {rng.choice(['x', 'y', 'z'])},{label}")
    path = tmp_path / "three.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Config.from_dict({
        "task": {"name": "text-csv", "path": str(path), "text_column": "text", "label_column": "label",
                 "vectorizer": "bow"},
        "model": {"kind": "mlp", "hidden": [8]}, "optim": {"max_epochs": 15, "lr": 0.05, "batch_size": 16},
        "run": {"device": "cpu", "seed": 0}})


def test_label_smoothing_raises_the_loss_of_a_confident_correct_prediction(tmp_path: Path) -> None:
    config = three_classes(tmp_path)
    assert config.applies("optim.label_smoothing")
    logits, target = torch.tensor([[8.0, -4.0, -4.0]]), torch.tensor([0])
    plain = float(prepare(config).loss_fn(logits, target))
    smooth = float(prepare(config.with_updates({"optim.label_smoothing": 0.2})).loss_fn(logits, target))
    log_p = torch.log_softmax(logits, dim=-1)[0]
    assert plain == pytest.approx(float(-log_p[0]), abs=1e-6) and plain < 1e-4
    assert smooth == pytest.approx(float(-(0.8 + 0.2 / 3) * log_p[0] - (0.2 / 3) * (log_p[1] + log_p[2])), rel=1e-5)
    assert smooth > plain + 1.0


def test_label_smoothing_makes_a_trained_model_less_sure(tmp_path: Path) -> None:
    def confidence(smoothing: float) -> float:
        setup, events = fit(three_classes(tmp_path).with_updates({"optim.label_smoothing": smoothing}))
        assert finished(events).state is TrialState.COMPLETED
        setup.model.eval()
        with torch.no_grad():
            return float(torch.softmax(setup.model(setup.data.val.x), dim=-1).max(dim=-1).values.mean())

    assert confidence(0.3) < confidence(0.0) - 0.05


@pytest.mark.parametrize("dotted, loss", [
    ({"task.name": "toy2d"}, "bce_with_logits"),  # auto picks bce for two classes
    ({"task.name": "curve"}, "mse"),
])
def test_label_smoothing_is_refused_where_the_loss_is_not_cross_entropy(dotted: dict, loss: str) -> None:
    config = cfg(**dotted, **{"optim.label_smoothing": 0.1})
    assert not config.applies("optim.label_smoothing")
    with pytest.raises(ConfigError, match=rf"optim\.label_smoothing: smooths cross-entropy targets only, "
                                          rf"and the loss is {loss}; set it to 0.*got 0\.1"):
        prepare(config)
    end = finished(list(train(config)))  # a trial started anyway ends failed with the same line
    assert end.state is TrialState.FAILED and end.reason.startswith("optim.label_smoothing:") and end.error is None
    assert cfg(**{"optim.label_smoothing": 0.1, "optim.loss": "cross_entropy"}).applies("optim.label_smoothing")


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_betas_and_eps_reach_the_optimizer(optimizer: str) -> None:
    setup = prepare(cfg(**{"optim.optimizer": optimizer, "optim.beta1": 0.8, "optim.beta2": 0.95,
                           "optim.eps": 1e-6}))
    group = setup.optimizer.param_groups[0]
    assert group["betas"] == (0.8, 0.95) and group["eps"] == 1e-6
    default = prepare(cfg(**{"optim.optimizer": optimizer})).optimizer.param_groups[0]
    assert default["betas"] == (0.9, 0.999) and default["eps"] == 1e-8  # torch's own defaults, unchanged


def test_rmsprop_takes_eps_and_sgd_takes_none_of_them() -> None:
    config = cfg(**{"optim.optimizer": "rmsprop", "optim.eps": 1e-3})
    assert prepare(config).optimizer.param_groups[0]["eps"] == 1e-3
    assert config.applies("optim.eps") and not config.applies("optim.beta1")
    sgd = cfg(**{"optim.optimizer": "sgd"})
    assert not any(sgd.applies(f"optim.{name}") for name in ("beta1", "beta2", "eps"))


def test_beta1_and_eps_change_the_trajectory() -> None:
    def losses(**dotted: Any) -> list[float]:
        return [e.train_loss for e in epochs(fit(cfg(**{"optim.lr": 0.01, **dotted}))[1])]

    base = losses()
    assert losses(**{"optim.beta1": 0.0}) != base
    assert losses(**{"optim.eps": 0.5})[-1] > base[-1]  # a huge eps shrinks every Adam step


NEW_KNOBS = {"optim.label_smoothing": 0.15, "optim.warmup_epochs": 2.5, "optim.beta1": 0.85, "optim.beta2": 0.98,
             "optim.eps": 1e-7, "optim.pct_start": 0.25}


@pytest.mark.parametrize("key, value", sorted(NEW_KNOBS.items()))
def test_each_new_knob_round_trips_through_set_and_presets(key: str, value: float, tmp_path: Path) -> None:
    config = load_preset("surnames-mlp", ["task.path=x.csv", f"{key}={value}"])
    assert config.get(key) == value
    assert load_config_text(to_toml(config)) == config
    save_preset(config, tmp_path / "mine.toml")
    assert load_preset(tmp_path / "mine.toml").get(key) == value


@pytest.mark.parametrize("key, value, rule", [
    ("optim.label_smoothing", "1", "must be <= 0.99"),
    ("optim.warmup_epochs", "-1", "must be >= 0"),
    ("optim.beta1", "1.0", "must be <= 0.999999"),
    ("optim.beta2", "-0.1", "must be >= 0"),
    ("optim.eps", "0", "must be > 0"),
    ("optim.pct_start", "1", "must be <= 0.99"),
    ("optim.scheduler", "one_cycle", r"must be one of none, step, cosine, plateau, onecycle \(did you mean 'onecycle'\?\)"),
])
def test_bad_values_name_the_key_and_the_rule(key: str, value: str, rule: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}: {rule}.*got"):
        load_preset("toy2d-mlp", [f"{key}={value}"])
