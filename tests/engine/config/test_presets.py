"""Presets: TOML round trips for many configs (drawn from the schema and by hand), saving, and loading
preset text from somewhere other than a file. Errors, `--set` overrides and the shipped presets have their
own modules: test_preset_errors, test_preset_overrides, test_shipped_presets."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config.consistency import CSV_TASKS, INDEX_MODEL_VECTORIZERS, INDEX_MODELS, SEQUENCE_VECTORIZERS
from engine.config.groups import BUILTIN_TASKS, GROUPS, SCRIPT_TASK, Config, iter_fields
from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, INT_LIST, STR, STR_LIST, TABLE, FieldInfo
from engine.config.presets import (
    load_config_text,
    load_preset,
    save_preset,
    to_toml,
)
from engine.config.toml_io import tomllib
from engine.errors import ConfigError

# --- a strategy for valid configs, built from the schema ------------------------------------------------

_SPECIAL_FLOATS = (0.0, 5e-324, 1e-300, 1e-12, 1 / 3, 0.1, 0.999999, 1.0, 1e9)
_option_values = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10), st.lists(st.integers(-100, 100), max_size=3),
)


def _in_range(info: FieldInfo, x: float) -> bool:
    k = info.knob
    assert k.low is not None and k.high is not None
    return (x > k.low if k.low_open else x >= k.low) and x <= k.high


def _value(info: FieldInfo) -> st.SearchStrategy[Any]:
    """Any valid value for one knob (cross-field rules aside)."""
    k = info.knob
    if info.key == "task.name":
        return st.sampled_from(BUILTIN_TASKS)
    if info.key == "run.device":
        return st.one_of(st.sampled_from(["auto", "cpu", "cuda", "mps"]), st.integers(0, 15).map(lambda n: f"cuda:{n}"))
    if k.kind == BOOL:
        return st.booleans()
    if k.kind == INT:
        assert k.low is not None and k.high is not None
        return st.integers(int(k.low), int(k.high))
    if k.kind == FLOAT:
        assert k.low is not None and k.high is not None
        special = [x for x in (*_SPECIAL_FLOATS, k.low, k.high) if _in_range(info, x)]
        return st.one_of(st.sampled_from(special),
                         st.floats(k.low, k.high, exclude_min=k.low_open, allow_nan=False, allow_infinity=False))
    if k.kind == CHOICE:
        return st.sampled_from(k.choices)
    if k.kind == STR:
        assert k.validator is None, f"{info.key} needs a strategy for its validator"
        return st.text(max_size=12)
    if k.kind == INT_LIST:
        assert k.low is not None and k.high is not None
        return st.lists(st.integers(int(k.low), int(k.high)), min_size=k.min_items, max_size=5)
    if k.kind == STR_LIST:
        return st.lists(st.text(min_size=1, max_size=8), min_size=k.min_items, max_size=4)
    if k.kind == TABLE:
        return st.dictionaries(st.text(min_size=1, max_size=8), _option_values, max_size=3)
    raise AssertionError(f"no strategy for knob kind {k.kind!r} ({info.key})")


def _make_consistent(data: dict[str, dict[str, Any]]) -> None:
    """Adjust a drawn config so that it passes check_consistency, keeping most of what was drawn."""
    task, model, optim, stop, run = data["task"], data["model"], data["optim"], data["early_stop"], data["run"]
    if task["name"] in (*CSV_TASKS, SCRIPT_TASK) and not task["path"]:
        task["path"] = "data.csv"
    char_matrix = task["name"] == "text-csv" and task["vectorizer"] == "char-matrix"
    if model["kind"] == "cnn" and not char_matrix:
        if task["name"] == "text-csv":
            task["vectorizer"] = "char-matrix"
        else:
            model["kind"] = "mlp"
    elif char_matrix and model["kind"] != "cnn":
        model["kind"] = "cnn"
    wanted = INDEX_MODEL_VECTORIZERS.get(model["kind"])
    if wanted and not (task["name"] == "text-csv" and task["vectorizer"] in wanted):
        if task["name"] == "text-csv":
            task["vectorizer"] = wanted[0]
        else:
            model["kind"] = "mlp"
    if task["name"] == "text-csv" and task["vectorizer"] in SEQUENCE_VECTORIZERS and model["kind"] not in INDEX_MODELS:
        model["kind"] = "rnn"
    if task["ngram_min"] > task["ngram_max"]:
        task["ngram_min"], task["ngram_max"] = task["ngram_max"], task["ngram_min"]
    if optim["optimizer"] == "sgd" and optim["nesterov"] and optim["momentum"] <= 0:
        optim["momentum"] = 0.9
    if optim["scheduler"] != "onecycle" and optim["warmup_epochs"] >= optim["max_epochs"]:
        optim["warmup_epochs"] = 0.0
    regression = task["name"] == "curve" or (task["name"] == "table-csv" and task["problem"] == "regression")
    classification = task["name"] in ("toy2d", "text-csv") or (
        task["name"] == "table-csv" and task["problem"] == "classification")
    if (regression and optim["loss"] in ("cross_entropy", "bce_with_logits")) or (
            classification and optim["loss"] in ("mse", "huber", "l1")):
        optim["loss"] = "auto"
    if regression:
        stop["monitor"] = "val_loss"
    if run["device"] in ("cpu", "mps"):
        run["precision"] = "fp32"


def _build(data: dict[str, dict[str, Any]], name: str) -> Config:
    data = {group: dict(values) for group, values in data.items()}
    _make_consistent(data)
    return Config.from_dict({"name": name, **data})  # raises if the strategy builds an inconsistent config


# Every knob of every group drawn from its own rules, then adjusted to pass the cross-field rules.
CONFIGS: st.SearchStrategy[Config] = st.builds(
    _build,
    st.fixed_dictionaries({
        group: st.fixed_dictionaries({f.name: _value(f) for f in iter_fields() if f.group == group})
        for group in GROUPS
    }),
    st.one_of(st.just(""), st.text(max_size=20)),
)


# --- round trips ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def save_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("saved")


@settings(max_examples=100, deadline=None)
@given(c=CONFIGS)
def test_configs_round_trip_through_toml_and_files(save_dir: Path, c: Config) -> None:
    text = to_toml(c)
    assert load_config_text(text) == c
    assert Config.from_dict(c.to_dict()) == c
    assert ("name" in tomllib.loads(text)) == bool(c.name)  # the name is written when set
    target = save_dir / "drawn.toml"
    assert save_preset(c, target, force=True) == target
    assert target.read_text(encoding="utf-8") == text
    # A file without a name is named after its stem; a named config keeps its name.
    assert load_preset(target) == (c if c.name else dataclasses.replace(c, name="drawn"))
    assert [p.name for p in target.parent.iterdir()] == ["drawn.toml"]  # no temporary file left behind


@pytest.mark.parametrize("c", [
    pytest.param(Config.from_dict({"name": "plug", "task": {"name": "pkg.mod:make", "options": {
        "size": 3, "ratio": 1e-300, "label": "ünï", "flags": [1, 2], "on": True, "nested": {"a": 1}}}}), id="plugin"),
    pytest.param(Config.from_dict({"name": "名前 \"q\" \\ \n", "optim": {"lr": 5e-324, "grad_clip": 1e9},
                                   "model": {"hidden": [1_000_000, 1, 7]}}), id="extremes"),
    pytest.param(Config.from_dict({"task": {"name": "table-csv", "path": "d/ü.parquet",
                                            "feature_columns": ["a b", "ç"], "problem": "regression"}}), id="table"),
])
def test_round_trip_examples(c: Config, tmp_path: Path) -> None:
    assert load_config_text(to_toml(c)) == c
    save_preset(c, tmp_path / "x.toml")
    assert load_preset(tmp_path / "x.toml") == (c if c.name else dataclasses.replace(c, name="x"))


def test_to_toml_layout() -> None:
    c = Config.from_dict({"name": "w", "model": {"hidden": [256, 128]}})
    text = to_toml(c)
    assert text.startswith('name = "w"\n')
    assert "hidden = [256, 128]\n" in text  # lists stay on one line, like a hand-written preset
    headers = re.findall(r"^\[([\w.]+)\]$", text, flags=re.M)
    assert headers == list(GROUPS)
    assert not to_toml(Config()).lstrip().startswith("name")


def test_save_preset_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "mine.toml"
    target.write_text("keep me", encoding="utf-8")
    c = Config.from_dict({"name": "new"})
    with pytest.raises(ConfigError) as err:
        save_preset(c, target)
    assert str(target) in str(err.value) and "--force" in str(err.value)
    assert target.read_text(encoding="utf-8") == "keep me"
    save_preset(c, target, force=True)
    assert load_preset(target) == c
    with pytest.raises(ConfigError, match="cannot write"):
        save_preset(c, tmp_path / "no-such-dir" / "x.toml")


# --- load_config_text -------------------------------------------------------------------------------

def test_load_config_text_names_its_source() -> None:
    c = load_config_text('name = "clip"\n[optim]\nlr = 0.5\n', source="clipboard")
    assert c.name == "clip" and c.optim.lr == 0.5
    with pytest.raises(ConfigError) as err:
        load_config_text("[optim]\nlr = 0\n", source="clipboard")
    assert str(err.value) == "clipboard: optim.lr: must be > 0, got 0.0"
    with pytest.raises(ConfigError) as err:
        load_config_text("[optim\n", source="clipboard")
    assert str(err.value).startswith("clipboard") and "TOML syntax error" in str(err.value)


# --- fixed bugs, kept as regressions ---------------------------------------------------------------

def test_a_preset_without_a_name_is_named_after_its_file_even_when_it_extends(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("extends = 'curve'\n\n[optim]\nlr = 0.01\n", encoding="utf-8")
    assert load_preset(path).name == "mine"
