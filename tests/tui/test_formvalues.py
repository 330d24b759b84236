"""Form text <-> config values, without a terminal."""
from __future__ import annotations

import pytest

from engine.config.groups import Config, field_info, iter_fields
from engine.config.presets import load_preset, shipped_names
from engine.errors import ConfigError
from tui.formvalues import NAME_FIELD, evaluate, form_fields, format_value, parse_value, raw_values


def parse(key: str, text: str | bool) -> object:
    return parse_value(NAME_FIELD if key == "name" else field_info(key), text)


def rule_of(key: str, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(key, text)
    assert caught.value.key == key
    return str(caught.value)


@pytest.mark.parametrize(("key", "text", "value"), [
    ("optim.lr", "1e-3", 0.001),
    ("optim.lr", " 3e-4 ", 0.0003),
    ("optim.lr", "0.01", 0.01),
    ("optim.lr", "2", 2.0),
    ("optim.batch_size", "256", 256),
    ("optim.batch_size", "1e3", 1000),
    ("model.hidden", "256, 128", (256, 128)),
    ("model.hidden", "[256,128]", (256, 128)),
    ("model.hidden", "64", (64,)),
    ("task.feature_columns", "", ()),
    ("task.feature_columns", "a, b c", ("a", "b c")),
    ("task.feature_columns", '["x,y", "z"]', ("x,y", "z")),
    ("task.options", "{n = 5}", {"n": 5}),
    ("task.options", 'n = 5, kind = "x"', {"n": 5, "kind": "x"}),
    ("task.options", "", {}),
    ("task.name", " toy2d ", "toy2d"),
    ("task.name", "mypkg.tasks:build", "mypkg.tasks:build"),
    ("model.kind", "cnn", "cnn"),
    ("task.lowercase", False, False),
    ("task.lowercase", "true", True),
    ("run.device", "cuda:1", "cuda:1"),
    ("name", "my trial", "my trial"),
])
def test_parse_per_kind(key: str, text: str | bool, value: object) -> None:
    assert parse(key, text) == value


@pytest.mark.parametrize(("key", "text", "rule"), [
    ("optim.lr", "-0.1", "optim.lr: must be > 0, got -0.1"),
    ("optim.lr", "0", "must be > 0"),
    ("optim.lr", "abc", "must be a number, got 'abc'"),
    ("optim.lr", "", "must be a number"),
    ("optim.lr", "nan", "must be a finite number"),
    ("optim.lr", "1000", "must be <= 100"),
    ("optim.batch_size", "1.5", "must be an integer, got '1.5'"),
    ("optim.batch_size", "0", "must be >= 1"),
    ("model.hidden", "256, x", "item 1 must be an integer"),
    ("model.hidden", "256, 0", "item 1 must be >= 1"),
    ("model.hidden", "", "must have at least 1 item(s)"),
    ("model.hidden", "[256, 128", "must be a list like 256, 128"),
    ("task.feature_columns", "a,,b", "item 1 must be a non-empty string"),
    ("task.options", "{n = }", "must be a TOML inline table"),
    ("task.name", "not a task", "must be one of toy2d"),
    ("model.kind", "transformer", "must be one of perceptron, mlp, cnn, rnn, embedding_bag"),
    ("task.lowercase", "maybe", "must be true or false"),
    ("run.device", "gpu", "must be auto, cpu, cuda, cuda:N or mps"),
])
def test_bad_inputs_name_the_rule(key: str, text: str, rule: str) -> None:
    assert rule in rule_of(key, text)


def test_format_then_parse_gives_the_value_back() -> None:
    config = Config.from_dict({
        "task": {"name": "pkg.mod:fn", "options": {"n": 5, "odd key": [1, "a"], "sub": {"x": 1.5}},
                 "feature_columns": ["a,b", "c"]},
        "optim": {"lr": 3e-4, "grad_clip": 1e-7},
        "model": {"hidden": [256, 128]},
    })
    for info in iter_fields():
        value = config.get(info.key)
        assert parse_value(info, format_value(info, value)) == value, info.key
    assert format_value(field_info("model.hidden"), (256, 128)) == "256, 128"
    assert format_value(field_info("optim.lr"), 0.001) == "0.001"


@pytest.mark.parametrize("preset", shipped_names())
def test_evaluate_round_trips_shipped_presets(preset: str) -> None:
    config = load_preset(preset, ["task.path=x.csv"] if preset.startswith("surnames") else [])
    state = evaluate(raw_values(config), config)
    assert state.errors == {}
    assert state.config == config


def test_field_error_blocks_the_config() -> None:
    raw = raw_values(Config())
    raw["optim.lr"] = "-1"
    state = evaluate(raw)
    assert state.config is None
    assert state.errors == {"optim.lr": "must be > 0, got -1.0"}


def test_cross_field_error_maps_to_its_key() -> None:
    raw = raw_values(Config())
    raw["model.kind"] = "cnn"
    state = evaluate(raw)
    assert state.config is None
    assert list(state.errors) == ["model.kind"]
    assert "needs task.name = 'text-csv'" in state.errors["model.kind"]

    raw = raw_values(Config())
    raw["optim.optimizer"] = "sgd"
    raw["optim.nesterov"] = True
    state = evaluate(raw)
    assert state.errors == {"optim.nesterov": "needs optim.momentum > 0, got True"}
    raw["optim.momentum"] = "0.9"
    assert evaluate(raw).config is not None

    raw = raw_values(Config())
    raw["task.name"] = "text-csv"
    assert "is required for task 'text-csv'" in evaluate(raw).errors["task.path"]


def test_applies_follows_the_values() -> None:
    raw = raw_values(Config())
    state = evaluate(raw)
    assert state.applies["model.hidden"] and not state.applies["model.channels"]
    assert not state.applies["optim.momentum"] and not state.applies["task.path"]
    raw.update({"model.kind": "cnn", "optim.optimizer": "sgd", "task.name": "text-csv"})
    state = evaluate(raw)
    assert not state.applies["model.hidden"] and state.applies["model.channels"]
    assert state.applies["optim.momentum"] and state.applies["task.path"]
    assert state.applies["name"]
    assert set(state.applies) == {info.key for info in form_fields()}


def test_unparsable_field_that_does_not_apply_does_not_block() -> None:
    base = Config.from_dict({"model": {"channels": 32}})
    raw = raw_values(base)
    raw["model.channels"] = "lots"  # hidden for an MLP
    state = evaluate(raw, base)
    assert state.errors == {}
    assert state.config == base
    raw["model.kind"] = "cnn"
    assert "model.channels" in evaluate(raw, base).errors
