"""`--set` overrides: how one is parsed, that it applies with the knob's type, and its errors."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.config.presets import load_preset, parse_override
from engine.errors import ConfigError

# --- --set overrides --------------------------------------------------------------------------------

@pytest.mark.parametrize(("item", "key", "value"), [
    ("optim.lr=3e-4", "optim.lr", 3e-4),
    ("model.hidden=[256,128]", "model.hidden", [256, 128]),
    ("model.hidden = [256, 128]", "model.hidden", [256, 128]),
    ("task.name=curve", "task.name", "curve"),
    ('run.device="cpu"', "run.device", "cpu"),
    ("run.device=cuda:1", "run.device", "cuda:1"),
    ("optim.nesterov=true", "optim.nesterov", True),
    ("early_stop.restore_best=false", "early_stop.restore_best", False),
    ("optim.batch_size=32", "optim.batch_size", 32),
    ("task.path=data/a b.csv", "task.path", "data/a b.csv"),
    ("task.path=", "task.path", ""),
    ("name=a=b", "name", "a=b"),
])
def test_parse_override(item: str, key: str, value: Any) -> None:
    parsed_key, parsed = parse_override(item)
    assert parsed_key == key and parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("item", ["optim.lr", "", "=3", " = 3"])
def test_parse_override_needs_key_and_equals(item: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_override(item)
    assert str(err.value) == f"--set: must look like group.key=value, got {item!r}"


def test_overrides_apply_with_their_types() -> None:
    c = load_preset("toy2d-mlp", ["optim.lr=3e-4", "model.hidden=[256,128]", "task.name=curve",
                                 'run.device="cpu"', "early_stop.restore_best=false", "optim.nesterov=true",
                                 "optim.optimizer=sgd", "optim.momentum=0.9", "name=tuned run"])
    assert c.optim.lr == 3e-4 and isinstance(c.optim.lr, float)
    assert c.model.hidden == (256, 128)
    assert c.task.name == "curve" and c.run.device == "cpu"
    assert c.early_stop.restore_best is False and c.optim.nesterov is True
    assert (c.optim.optimizer, c.optim.momentum, c.name) == ("sgd", 0.9, "tuned run")
    assert c.optim.batch_size == 64 and c.optim.max_epochs == 30  # the rest is the preset's
    assert load_preset("toy2d-mlp", ["optim.lr=0.1", "optim.lr=0.2"]).optim.lr == 0.2  # the last wins


@pytest.mark.parametrize(("item", "pieces"), [
    ("optim.lrr=0.1", ["--set: optim.lrr: unknown key", "did you mean 'optim.lr'?"]),
    ("optimm.lr=0.1", ["--set: optimm.lr: unknown key", "did you mean 'optim.lr'?"]),
    ("lr=0.1", ["--set: lr: unknown key"]),
    ("optim.lr=-1", ["--set: optim.lr: must be > 0, got -1.0"]),
    ("optim.lr=fast", ["--set: optim.lr: must be a number, got 'fast'"]),
    ("model.hidden=[64,\"a\"]", ["--set: model.hidden: item 1 must be an integer, got [64, 'a']"]),
    ("optim.optimizer=adamm", ["--set: optim.optimizer: must be one of", "did you mean 'adam'?", "got 'adamm'"]),
    ("optim.loss=mse", ["--set: optim.loss: task 'toy2d' is a classification", "got 'mse'"]),
    ("optim.lr", ["--set: must look like group.key=value, got 'optim.lr'"]),
])
def test_bad_overrides_name_set_and_the_key(item: str, pieces: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_preset("toy2d-mlp", [item])
    assert err.value.file == "--set" or err.value.key == "--set"
    for piece in pieces:
        assert piece in str(err.value)


def test_a_rule_broken_by_the_file_after_an_override_points_at_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[run]\nprecision = 'bf16'\n", encoding="utf-8")
    assert load_preset(path).run.precision == "bf16"
    with pytest.raises(ConfigError) as err:
        load_preset(path, ["run.device=cpu"])
    assert str(err.value).startswith(f"{path}:2: run.precision: mixed precision needs a CUDA device")
    with pytest.raises(ConfigError) as err:
        load_preset(path, ["run.precision=fp16", "run.device=cpu"])
    assert str(err.value).startswith("--set: run.precision: ")


# --- fixed bugs, kept as regressions ---------------------------------------------------------------

@pytest.mark.parametrize("item, key, expected", [
    ("name=2024", "name", "2024"),
    ("task.path=inf", "task.path", "inf"),
    ("task.text_column=2024-01-01", "task.text_column", "2024-01-01"),
    ("optim.lr=inf", "optim.lr", float("inf")),
])
def test_override_of_a_text_knob_keeps_the_text(item: str, key: str, expected: object) -> None:
    assert parse_override(item) == (key, expected)
