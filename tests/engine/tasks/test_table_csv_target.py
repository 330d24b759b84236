"""table-csv regression: the target standardised on the train split alone, the losses reported in the
target's own units. Small CSV files written here; the expected numbers computed here in plain Python.
"""
from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest
import torch

from engine.config.groups import Config
from engine.errors import ConfigError
from engine.events import EpochEnded, TrialFinished, TrialState
from engine.tasks import table_csv
from engine.training.loop import prepare, train

SPLITS = ["train"] * 60 + ["val"] * 20 + ["test"] * 20


def write_csv(path: Path, seed: int = 0) -> tuple[list[float], list[float]]:
    """House-price-like rows: a target in the thousands that grows with x; val and test lie higher
    than train so that statistics over all rows would differ from train's."""
    rng = random.Random(seed)
    xs = [i / 10 + (3.0 if split != "train" else 0.0) for i, split in enumerate(SPLITS)]
    ys = [2000.0 + 400.0 * x + rng.gauss(0, 50) for x in xs]
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["x", "price", "split"])
        out.writerows(zip(xs, ys, SPLITS))
    return xs, ys


def config(path: Path, **optim: object) -> Config:
    return Config.from_dict({
        "task": {"name": "table-csv", "path": str(path), "target_column": "price", "split_column": "split"},
        "model": {"kind": "mlp", "hidden": [16]},
        "optim": {"max_epochs": 40, "batch_size": 16, "lr": 0.01, "optimizer": "adam", **optim},
        "early_stop": {"patience": 0},
        "run": {"seed": 0, "device": "cpu"},
    })


def train_stats(ys: list[float]) -> tuple[float, float]:
    train = [y for y, split in zip(ys, SPLITS) if split == "train"]
    mean = sum(train) / len(train)
    return mean, math.sqrt(sum((y - mean) ** 2 for y in train) / len(train))


def test_the_target_is_standardised_with_the_train_split_alone(tmp_path: Path) -> None:
    xs, ys = write_csv(tmp_path / "houses.csv")
    data = table_csv.build(config(tmp_path / "houses.csv"))
    mean, std = train_stats(ys)
    everything = sum(ys) / len(ys)
    assert abs(everything - mean) > 500  # so a mean over every row would be caught
    assert data.info["target_mean"] == pytest.approx(mean) and data.info["target_std"] == pytest.approx(std)
    assert data.train.y.shape == (60, 1) and data.train.y.dtype == torch.float32
    assert data.train.y.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert data.train.y.std(correction=0).item() == pytest.approx(1.0, abs=1e-5)
    test_rows = [y for y, split in zip(ys, SPLITS) if split == "test"]
    assert data.test.y.reshape(-1).tolist() == pytest.approx([(y - mean) / std for y in test_rows], rel=1e-5)
    back = data.val.y.reshape(-1) * data.info["target_std"] + data.info["target_mean"]
    assert back.tolist() == pytest.approx([y for y, s in zip(ys, SPLITS) if s == "val"], rel=1e-6)


def test_a_constant_target_does_not_divide_by_zero(tmp_path: Path) -> None:
    path = tmp_path / "flat.csv"
    path.write_text("x,price,split\n" + "".join(f"{i},5.5,{s}\n" for i, s in enumerate(SPLITS)))
    data = table_csv.build(config(path, loss="auto").with_updates({"task.problem": "regression"}))
    assert data.info["target_std"] == 1.0 and data.info["target_mean"] == 5.5
    assert torch.equal(data.test.y, torch.zeros(20, 1))


@pytest.mark.parametrize(("name", "expected"), [
    ("auto", lambda err, std: (err ** 2).mean()),
    ("mse", lambda err, std: (err ** 2).mean()),
    ("l1", lambda err, std: err.abs().mean()),
    ("huber", lambda err, std: torch.where(err.abs() <= std, 0.5 * err ** 2, std * (err.abs() - 0.5 * std)).mean()),
])
def test_the_loss_value_is_in_target_units_and_its_gradient_is_the_standardised_ones(
        tmp_path: Path, name: str, expected) -> None:
    _, ys = write_csv(tmp_path / "houses.csv")
    data = table_csv.build(config(tmp_path / "houses.csv", loss=name))
    mean, std = data.info["target_mean"], data.info["target_std"]
    prediction = torch.linspace(-2, 2, 20).reshape(-1, 1).requires_grad_()
    value = data.loss(prediction, data.test.y)
    in_units = (prediction.detach() * std + mean) - torch.tensor([y for y, s in zip(ys, SPLITS) if s == "test"]).reshape(-1, 1)
    assert value.item() == pytest.approx(expected(in_units.double(), std).item(), rel=1e-4)
    value.backward()
    standardised = prediction.detach().clone().requires_grad_()
    base = {"auto": torch.nn.MSELoss(), "mse": torch.nn.MSELoss(), "l1": torch.nn.L1Loss(),
            "huber": torch.nn.HuberLoss()}[name]
    base(standardised, data.test.y).backward()
    assert torch.allclose(prediction.grad, standardised.grad)


def test_a_classification_loss_for_a_regression_is_still_refused(tmp_path: Path) -> None:
    write_csv(tmp_path / "houses.csv")
    with pytest.raises(ConfigError, match="the task is a regression; use auto, mse, huber or l1"):
        prepare(config(tmp_path / "houses.csv", loss="cross_entropy"))


def test_trained_for_real_the_reported_losses_are_the_mse_in_the_targets_units(tmp_path: Path) -> None:
    _, ys = write_csv(tmp_path / "houses.csv")
    cfg = config(tmp_path / "houses.csv")
    setup = prepare(cfg)
    events = list(train(cfg, setup=setup))
    finished = events[-1]
    assert isinstance(finished, TrialFinished) and finished.state == TrialState.COMPLETED, finished.reason
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    mean, std = train_stats(ys)
    setup.model.eval()
    with torch.no_grad():
        predicted = setup.model(setup.data.test.x).reshape(-1).double() * std + mean
    actual = torch.tensor([y for y, s in zip(ys, SPLITS) if s == "test"], dtype=torch.float64)
    mse = ((predicted - actual) ** 2).mean().item()
    assert finished.summary.test_loss == pytest.approx(mse, rel=1e-3)
    assert epochs[0].val_loss > epochs[-1].val_loss  # it learned
    assert finished.summary.test_loss > 1000  # in price units: the noise alone has an MSE of 2500
    assert epochs[0].train_loss > 1000  # the train curve is in the same units as the val curve
