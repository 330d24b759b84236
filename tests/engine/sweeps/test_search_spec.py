"""The `[search]` table: what parses, every rule a bad table breaks (named as key, rule and value),
where `load_sweep` places an error in the preset files, and `to_dict()` reading back as the same spec."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from engine.config.groups import Config
from engine.config.presets import load_preset, save_preset
from engine.config.toml_io import tomllib
from engine.errors import ConfigError
from engine.sweeps.preset_search import load_preset_with_search, load_sweep
from engine.sweeps.spec import DEFAULT_TRIALS, Choice, Range, parse_search

BASE = Config.from_dict({"task": {"name": "toy2d", "n_samples": 200}, "model": {"hidden": [8]},
                         "optim": {"max_epochs": 4}, "run": {"device": "cpu"}})
LR = {"optim.lr": [0.01, 0.1]}


def _error(raw: dict[str, Any], **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_search(raw, BASE, **kwargs)
    return info.value


# --- a good table -----------------------------------------------------------------------------------------

def test_a_good_table_parses_every_kind_of_knob() -> None:
    raw = {
        "name": "wide-lr", "strategy": "tpe", "trials": 12, "parallel": 2, "pruner": "median", "seed": 7,
        "startup_trials": 4, "warmup_epochs": 2,
        "optim": {"lr": {"low": 1e-4, "high": 1e-1, "log": True}},  # unquoted `optim.lr = {...}` in TOML
        "model.hidden": [[8], [16, 8]],
        "optim.batch_size": {"low": 16, "high": 64, "step": 16},
        "reg.dropout": [0.0, 0.25],
        "optim.optimizer": ["adam", "sgd"],
    }
    spec = parse_search(raw, BASE)
    assert spec.keys() == ["optim.lr", "model.hidden", "optim.batch_size", "reg.dropout", "optim.optimizer"]
    assert spec.param("optim.lr") == Range("optim.lr", 1e-4, 1e-1, integer=False, log=True)
    hidden = spec.param("model.hidden")
    assert isinstance(hidden, Choice) and hidden.values == ((8,), (16, 8)) and not hidden.scalar
    assert hidden.labels == ("[8]", "[16, 8]")
    batch = spec.param("optim.batch_size")
    assert batch == Range("optim.batch_size", 16, 64, integer=True, step=16)
    assert batch.grid_values() == [16, 32, 48, 64]
    assert spec.param("optim.optimizer") == Choice("optim.optimizer", ("adam", "sgd"))
    assert (spec.name, spec.strategy, spec.trials, spec.parallel, spec.pruner, spec.seed) == \
        ("wide-lr", "tpe", 12, 2, "median", 7)
    assert (spec.startup_trials, spec.warmup_epochs, spec.metric, spec.direction) == (4, 2, "val_loss", "minimize")
    assert spec.planned == 12


def test_choices_take_the_knobs_canonical_form() -> None:
    spec = parse_search({"optim.lr": [1, 0.5], "optim.batch_size": [32.0, 64]}, BASE)
    assert spec.param("optim.lr").values == (1.0, 0.5)
    assert spec.param("optim.batch_size").values == (32, 64)
    assert all(type(v) is int for v in spec.param("optim.batch_size").values)


def test_task_options_can_be_searched_nested_or_quoted() -> None:
    nested = parse_search({"task": {"options": {"n": [32, 64]}}}, BASE)
    quoted = parse_search({"task.options.n": [32, 64]}, BASE)
    assert nested == quoted and nested.keys() == ["task.options.n"]


def test_grid_size_planned_and_defaults() -> None:
    grid = parse_search({"strategy": "grid", "optim.lr": [0.1, 0.01, 0.001],
                         "optim.batch_size": {"low": 16, "high": 48, "step": 16}}, BASE)
    assert grid.grid_size == 9 and grid.planned == 9
    assert parse_search({"strategy": "grid", "trials": 4, **LR, "reg.dropout": [0.0, 0.1]}, BASE).planned == 4
    random = parse_search({"strategy": "random", **LR}, BASE)
    assert random.trials is None and random.planned == DEFAULT_TRIALS
    assert parse_search(LR, BASE).strategy == "tpe"
    assert parse_search({"metric": "val_acc", **LR}, BASE).direction == "maximize"  # direction follows the metric
    assert parse_search({"metric": "val_acc", "direction": "minimize", **LR}, BASE).direction == "minimize"


def test_with_seed_keeps_a_seed_and_draws_one_when_missing() -> None:
    seeded = parse_search({"seed": 5, **LR}, BASE)
    assert seeded.with_seed() is seeded
    drawn = parse_search(LR, BASE).with_seed()
    assert isinstance(drawn.seed, int) and 0 <= drawn.seed < 2**31


@pytest.mark.parametrize("raw", [
    {"optim.lr": [0.01, 0.1]},
    {"name": "n", "strategy": "grid", "trials": 3, "seed": 1, "placement": "free_memory",
     "model.hidden": [[8], [16, 8]], "optim.batch_size": {"low": 16, "high": 48, "step": 16}},
    {"strategy": "random", "trials": 9, "parallel": 3, "pruner": "successive_halving", "startup_trials": 0,
     "warmup_epochs": 3, "metric": "val_acc", "optim.lr": {"low": 1e-5, "high": 0.5, "log": True},
     "reg.dropout": {"low": 0.0, "high": 0.5}, "optim.max_epochs": {"low": 2, "high": 8},
     "optim.optimizer": ["adam", "sgd"], "early_stop.restore_best": [True, False], "task.options.k": [1, "a"]},
])
def test_to_dict_round_trips_through_parse_search_and_toml(raw: dict[str, Any]) -> None:
    spec = parse_search(raw, BASE).with_seed()
    assert parse_search(spec.to_dict(), BASE) == spec
    stored = json.loads(json.dumps(spec.to_dict()))  # as the store keeps it
    assert parse_search(stored, BASE) == spec
    # written as TOML (a saved sweep preset), ranges become sub-tables after the lists: same knobs, new order
    text = tomli_w.dumps({"search": spec.to_dict()})
    again = parse_search(tomllib.loads(text)["search"], BASE)
    assert sorted(again.params, key=lambda p: p.key) == sorted(spec.params, key=lambda p: p.key)
    assert dataclasses.replace(again, params=spec.params) == spec


# --- every rule a bad table can break --------------------------------------------------------------------

@pytest.mark.parametrize("raw, key, rule, value", [
    ({"optim.lrr": [0.1]}, "search.optim.lrr", "unknown key (did you mean 'optim.lr'?)", None),
    ({"optim": {"lrr": [0.1]}}, "search.optim.lrr", "did you mean 'optim.lr'?", None),
    ({"trails": 3, **LR}, "search.trails", "unknown setting (did you mean 'trials'?)", None),
    ({"optim.lr": []}, "search.optim.lr", "must list at least one choice", "[]"),
    ({"optim.lr": [0.1, 0.1]}, "search.optim.lr", "lists 0.1 more than once", "[0.1, 0.1]"),
    ({"optim.lr": 0.1}, "search.optim.lr", "must be a list of choices", "0.1"),
    ({"optim.lr": {"low": 0.1, "high": 0.01}}, "search.optim.lr", "`low <= high` must hold", "low=0.1, high=0.01"),
    ({"reg.weight_decay": {"low": 0.0, "high": 0.01, "log": True}}, "search.reg.weight_decay",
     "a log range must stay above 0", "low=0.0"),
    ({"reg.weight_decay": {"low": -1e-3, "high": 0.01, "log": True}}, "search.reg.weight_decay",
     "a log range must stay above 0", "low=-0.001"),
    ({"optim.lr": {"low": 0.0, "high": 0.1, "log": True}}, "search.optim.lr", "a log range must stay above 0",
     "low=0.0"),
    ({"optim.lr": {"low": 0.01, "high": 0.1, "log": True, "step": 0.01}}, "search.optim.lr",
     "either log = true or a step, not both", None),
    ({"optim.lr": {"low": 0.01, "high": 0.1, "log": "yes"}}, "search.optim.lr.log", "must be true or false", "'yes'"),
    ({"optim.optimizer": {"low": 0, "high": 1}}, "search.optim.optimizer", "a range needs a numeric knob", None),
    ({"model.hidden": {"low": 1, "high": 8}}, "search.model.hidden", "a range needs a numeric knob", None),
    ({"task.options.n": {"low": 1, "high": 8}}, "search.task.options.n", "a range needs a numeric knob", None),
    ({"optim.batch_size": {"low": 1.5, "high": 8}}, "search.optim.batch_size.low",
     "must be an integer (the knob is an integer)", "1.5"),
    ({"optim.batch_size": {"low": 8, "high": 64, "step": 2.5}}, "search.optim.batch_size.step",
     "must be an integer", "2.5"),
    ({"optim.lr": {"low": 0.01, "high": 0.1, "step": 0}}, "search.optim.lr.step", "must be > 0", "0"),
    ({"optim.lr": {"low": "0.01", "high": 0.1}}, "search.optim.lr.low", "must be a number", "'0.01'"),
    ({"optim.lr": {"low": 0.01, "hgh": 0.1}}, "search.optim.lr.hgh", "unknown range key (did you mean 'high'?)",
     "0.1"),
    ({"optim.lr": {"low": 0.01}}, "search.optim.lr", "a range needs both low and high (missing high)", None),
    ({"optim.lr": [-1.0, 0.1]}, "search.optim.lr", "must be > 0", "-1.0"),
    ({"optim.lr": {"low": -1, "high": 0.1}}, "search.optim.lr", "must be > 0", "-1"),
    ({"task.n_samples": {"low": 10, "high": 100}}, "search.task.n_samples", "must be >= 30", "10"),
    ({"model.kind": ["mlp", "cnn"]}, "search.model.kind", "model.kind = 'cnn' needs task.name = 'text-csv'",
     "'cnn'"),
    ({"strategy": "grid", "optim.lr": {"low": 0.01, "high": 0.1}}, "search.optim.lr",
     "grid search needs a list of values or a range with a step", None),
    ({"strategy": "grid", "trials": 3, **LR}, "search.trials", "the grid has 2 point(s)", "3"),
    ({"strategy": "random"}, "search", "names no knob to vary", None),
    ({}, "search", "names no knob to vary", None),
    ({"strategy": "tpf", **LR}, "search.strategy", "must be one of grid, random, tpe, gp, cmaes, qmc (did you mean 'tpe'?)", "'tpf'"),
    ({"pruner": "medain", **LR}, "search.pruner", "must be one of none, median, successive_halving", "'medain'"),
    ({"metric": "val_los", **LR}, "search.metric", "(did you mean 'val_loss'?)", "'val_los'"),
    ({"direction": "up", **LR}, "search.direction", "must be one of minimize, maximize", "'up'"),
    ({"placement": "packed", **LR}, "search.placement", "must be one of round_robin, free_memory", "'packed'"),
    ({"trials": 0, **LR}, "search.trials", "must be >= 1 and <= 100000", "0"),
    ({"trials": 100_001, **LR}, "search.trials", "must be >= 1 and <= 100000", "100001"),
    ({"trials": 2.5, **LR}, "search.trials", "must be an integer", "2.5"),
    ({"trials": True, **LR}, "search.trials", "must be an integer", "True"),
    ({"parallel": 0, **LR}, "search.parallel", "must be >= 1 and <= 64", "0"),
    ({"parallel": 65, **LR}, "search.parallel", "must be >= 1 and <= 64", "65"),
    ({"seed": -1, **LR}, "search.seed", "must be >= 0", "-1"),
    ({"startup_trials": -1, **LR}, "search.startup_trials", "must be >= 0", "-1"),
    ({"name": 3, **LR}, "search.name", "must be a string", "3"),
])
def test_each_bad_table_rule_names_the_key_the_rule_and_the_value(
        raw: dict[str, Any], key: str, rule: str, value: str | None) -> None:
    exc = _error(raw)
    assert exc.key == key
    assert rule in exc.rule
    message = str(exc)
    assert message.startswith(f"{key}: ")
    if value is not None:
        assert value in message
    assert "\n" not in message


def test_the_message_reads_key_rule_value() -> None:
    exc = _error({"optim.lr": {"low": 0.1, "high": 0.01}})
    assert str(exc) == "search.optim.lr: `low <= high` must hold, got low=0.1, high=0.01"
    assert str(_error({"optim.lr": [-1]})) == "search.optim.lr: must be > 0, got -1"


def test_overrides_are_checked_like_the_table() -> None:
    assert parse_search({"trials": 5, **LR}, BASE, overrides={"trials": 2}).trials == 2
    assert _error({"trials": 5, **LR}, overrides={"trials": 0}).key == "search.trials"
    assert _error({"strategy": "random", **LR}, overrides={"strategy": "grid", "trials": 9}).key == "search.trials"


def test_a_table_that_is_not_a_table() -> None:
    assert _error(["optim.lr"]).key == "search"  # type: ignore[arg-type]


# --- load_sweep on preset files -------------------------------------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SWEEP_TOML = """\
extends = "toy2d-mlp"

[task]
n_samples = 200

[search]
strategy = "random"
trials = 3
"optim.lr" = { low = 1e-3, high = 1e-1, log = true }
model.hidden = [[8], [16]]
"""


def test_load_sweep_reads_the_base_config_and_the_spec(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", SWEEP_TOML)
    config, spec = load_sweep(path, ["optim.max_epochs=2"])
    assert config.task.n_samples == 200 and config.optim.max_epochs == 2 and config.name == "s"
    assert spec.strategy == "random" and spec.trials == 3 and spec.keys() == ["optim.lr", "model.hidden"]
    assert spec.param("model.hidden").values == ((8,), (16,))
    _, again = load_sweep(path, (), {"trials": 5, "strategy": "tpe"})
    assert again.trials == 5 and again.strategy == "tpe"


def test_a_preset_that_extends_a_sweep_keeps_its_search(tmp_path: Path) -> None:
    _write(tmp_path / "s.toml", SWEEP_TOML)
    child = _write(tmp_path / "child.toml", 'extends = "s.toml"\n\n[optim]\nmax_epochs = 3\n\n[search]\ntrials = 4\n')
    config, spec = load_sweep(child)
    assert config.optim.max_epochs == 3 and config.task.n_samples == 200
    assert spec.keys() == ["optim.lr", "model.hidden"]  # the base's knobs
    assert spec.trials == 4 and spec.strategy == "random"  # the child's setting over the base's


def test_a_saved_preset_with_its_search_loads_back_as_the_same_sweep(tmp_path: Path) -> None:
    """The cockpit's ctrl+s saves the form and the Sweep dialog's table; both must read back."""
    source = _write(tmp_path / "s.toml", SWEEP_TOML)
    _, table = load_preset_with_search(source)
    assert table is not None and "model.hidden" in table and "model" not in table  # unquoted keys flattened
    config, spec = load_sweep(source)
    saved = save_preset(config, tmp_path / "saved.toml", search=table)
    config2, spec2 = load_sweep(saved)
    assert config2 == config and spec2 == spec
    assert load_preset(saved).optim.lr == config.optim.lr  # a single run ignores the table
    with pytest.raises(ConfigError, match="exists"):
        save_preset(config, saved, search=table)


def test_the_shipped_sweep_preset_loads() -> None:
    config, spec = load_sweep("toy2d-sweep")
    assert spec.strategy == "tpe" and spec.pruner == "median" and spec.planned == 24
    assert config.optim.max_epochs == 20


def test_a_preset_without_search_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "plain.toml", 'extends = "toy2d-mlp"\n')
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    assert info.value.file == str(path)
    assert str(info.value).startswith(f"{path}: has no [search] table to sweep")


@pytest.mark.parametrize("lines, line, key, rule", [
    (['strategy = "random"', '"optim.lr" = { low = 1e-1, high = 1e-3 }'], 8, "search.optim.lr",
     "`low <= high` must hold"),
    (['trials = 0', '"optim.lr" = [0.1]'], 7, "search.trials", "must be >= 1"),
    (['"optim.lr" = [0.1]', '"optim.lrr" = [0.1]'], 8, "search.optim.lrr", "did you mean 'optim.lr'?"),
    (['"optim.lr" = { low = 1e-3, hgh = 1e-1 }'], 7, "search.optim.lr.hgh", "unknown range key"),
    (['strategy = "grid"'], 6, "search", "names no knob to vary"),
])
def test_a_bad_search_table_is_located_in_its_file(tmp_path: Path, lines: list[str], line: int, key: str,
                                                    rule: str) -> None:
    text = 'extends = "toy2d-mlp"\n\n[optim]\nmax_epochs = 2\n\n[search]\n' + "\n".join(lines) + "\n"
    path = _write(tmp_path / "bad.toml", text)  # [search] is line 6, its first entry line 7
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    exc = info.value
    assert (exc.file, exc.line, exc.key) == (str(path), line, key)
    assert str(exc).startswith(f"{path}:{line}: {key}: ") and rule in exc.rule


def test_an_unquoted_dotted_knob_is_located_on_its_own_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.toml", '[search]\nstrategy = "random"\noptim.lr = { low = 1e-1, high = 1e-3 }\n')
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    assert info.value.line == 3


def test_an_error_in_the_base_presets_search_points_into_the_base(tmp_path: Path) -> None:
    base = _write(tmp_path / "s.toml", SWEEP_TOML)
    child = _write(tmp_path / "child.toml", 'extends = "s.toml"\n\n[search]\nstrategy = "grid"\n')
    with pytest.raises(ConfigError) as info:
        load_sweep(child)
    # the child chose grid, the base's continuous lr range is what breaks it: the base's line 9 says so
    assert str(info.value).startswith(f"{base}:9: search.optim.lr: grid search needs a list of values")


def test_a_bad_setting_from_the_command_line_names_the_option(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", SWEEP_TOML)
    with pytest.raises(ConfigError) as info:
        load_sweep(path, (), {"trials": 0})
    assert str(info.value) == "--trials: must be >= 1 and <= 100000, got 0"
    with pytest.raises(ConfigError) as info:
        load_sweep(path, (), {"parallel": 100})
    assert str(info.value) == "--parallel: must be >= 1 and <= 64, got 100"
    with pytest.raises(ConfigError) as info:
        load_sweep(path, (), {"strategy": "grdi"})
    assert str(info.value).startswith("--strategy: must be one of grid, random, tpe, gp, cmaes, qmc (did you mean 'grid'?)")


def test_the_search_is_checked_against_the_config_after_set_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", '[search]\n"optim.loss" = ["mse", "huber"]\n')
    with pytest.raises(ConfigError) as info:
        load_sweep(path)  # toy2d is a classification: a regression loss is refused for it
    assert info.value.key == "search.optim.loss" and "is a classification" in info.value.rule
    assert str(info.value).startswith(f"{path}:2: search.optim.loss: ")
    config, spec = load_sweep(path, ["task.name=curve"])  # the same search on a regression task is fine
    assert config.task.name == "curve" and spec.param("optim.loss").values == ("mse", "huber")


def test_a_seed_numpy_cannot_take_is_refused_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match=r"search\.seed: must be >= 0 and <= 4294967295, got 4294967296"):
        parse_search({"seed": 2**32, "optim.lr": [0.1]}, Config.from_dict({}))
