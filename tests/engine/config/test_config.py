"""The config schema: every knob is described and checked, `applies` follows task and model, and the
cross-field rules in `check_consistency` reject what cannot run and accept what can."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from engine.config.groups import (
    BUILTIN_TASKS,
    GROUPS,
    Config,
    check_consistency,
    field_info,
    iter_fields,
    set_dotted,
)
from engine.config.knobs import (
    BOOL,
    CHOICE,
    FLOAT,
    INT,
    INT_LIST,
    STR,
    STR_LIST,
    TABLE,
    FieldInfo,
    coerce,
)
from engine.errors import ConfigError

KINDS = {INT, FLOAT, BOOL, STR, CHOICE, INT_LIST, STR_LIST, TABLE}
ALL_KEYS = [f.key for f in iter_fields()]


def _config(data: dict[str, Any]) -> Config:
    return Config.from_dict(data)


# --- schema introspection -----------------------------------------------------------------------------

@pytest.mark.parametrize("info", list(iter_fields()), ids=lambda i: i.key)
def test_every_knob_is_described_and_its_default_validates(info: FieldInfo) -> None:
    k = info.knob
    assert k.kind in KINDS
    assert k.help.strip() and k.help == k.help.strip() and "\n" not in k.help
    assert k.rule_text()
    assert coerce(info, info.default) == info.default
    if k.kind == CHOICE:
        assert k.choices and len(set(k.choices)) == len(k.choices)
        assert info.default in k.choices
    else:
        assert not k.choices
    if k.kind in (INT, FLOAT):
        assert k.low is not None and k.high is not None and k.low < k.high
    if k.kind in (INT_LIST, STR_LIST):
        assert len(info.default) >= k.min_items


def test_keys_are_unique_grouped_and_match_the_dataclasses() -> None:
    assert len(ALL_KEYS) == len(set(ALL_KEYS))
    groups = [f.group for f in iter_fields()]
    assert list(dict.fromkeys(groups)) == list(GROUPS)
    for group, cls in GROUPS.items():
        assert [f.name for f in iter_fields() if f.group == group] == [f.name for f in dataclasses.fields(cls)]


def test_defaults_are_a_valid_config() -> None:
    c = Config()
    assert c == Config.from_dict({})
    assert Config.from_dict(c.to_dict()) == c
    flat = c.flat()
    assert list(flat) == ALL_KEYS
    assert flat == {f.key: f.default for f in iter_fields()}
    assert c.name == "" and "name" not in c.to_dict()


def test_field_info_finds_a_key_and_suggests_for_a_typo() -> None:
    assert field_info("optim.lr").knob.kind == FLOAT
    assert field_info("optim.lr").default == 1e-3
    with pytest.raises(ConfigError) as err:
        field_info("optim.lrr")
    assert err.value.key == "optim.lrr"
    assert "unknown key" in str(err.value) and "did you mean 'optim.lr'" in str(err.value)


# --- applies ----------------------------------------------------------------------------------------

CNN_KNOBS = ["model.channels", "model.kernel_size", "model.conv_layers"]
CNN = {"task": {"name": "text-csv", "path": "x.csv", "vectorizer": "char-matrix"}, "model": {"kind": "cnn"}}


def test_cnn_knobs_apply_to_a_cnn_only() -> None:
    mlp = Config()
    cnn = _config(CNN)
    for key in CNN_KNOBS:
        assert not mlp.applies(key) and cnn.applies(key), key
    assert mlp.applies("model.hidden") and not cnn.applies("model.hidden")
    perceptron = _config({"model": {"kind": "perceptron"}})
    assert not perceptron.applies("model.activation") and not perceptron.applies("reg.dropout")
    assert mlp.applies("model.activation") and cnn.applies("reg.dropout")
    for key in ("optim.lr", "optim.batch_size", "run.seed", "early_stop.patience", "reg.weight_decay"):
        assert mlp.applies(key) and cnn.applies(key) and perceptron.applies(key)


TASK_CONFIGS: dict[str, dict[str, Any]] = {
    "toy2d": {"task": {"name": "toy2d"}},
    "curve": {"task": {"name": "curve"}},
    "text-csv": {"task": {"name": "text-csv", "path": "x.csv"}},
    "table-csv": {"task": {"name": "table-csv", "path": "x.csv"}},
    "plugin": {"task": {"name": "mypkg.tasks:make", "options": {"size": 3}}},
    "script": {"task": {"name": "script", "path": "train.py"}},
}
# Which tasks each task knob is shown for.
TASK_APPLIES = {
    "task.name": set(TASK_CONFIGS),
    "task.n_samples": {"toy2d", "curve"},
    "task.noise": {"curve"},
    "task.path": {"text-csv", "table-csv", "script"},
    "task.args": {"script"},
    "task.python": {"script"},
    "task.stop_grace": {"script"},
    "task.pass_flags": {"script"},
    "task.split_column": {"text-csv", "table-csv"},
    "task.text_column": {"text-csv"},
    "task.label_column": {"text-csv"},
    "task.vectorizer": {"text-csv"},
    "task.min_freq": {"text-csv"},
    "task.lowercase": {"text-csv"},
    # text-csv with other vectorizers than bow (tests/engine/tasks/test_seq_knobs.py)
    "task.max_length": set(), "task.ngram_min": set(), "task.ngram_max": set(), "task.hash_buckets": set(),
    "task.target_column": {"table-csv"},
    "task.feature_columns": {"table-csv"},
    "task.problem": {"table-csv"},
    "task.options": {"plugin"},
}


def test_the_applies_table_covers_every_task_knob() -> None:
    assert set(TASK_APPLIES) == {k for k in ALL_KEYS if k.startswith("task.")}


@pytest.mark.parametrize("task", list(TASK_CONFIGS))
def test_task_knobs_apply_per_task(task: str) -> None:
    c = _config(TASK_CONFIGS[task])
    shown = {key for key in TASK_APPLIES if c.applies(key)}
    assert shown == {key for key, tasks in TASK_APPLIES.items() if task in tasks}


@pytest.mark.parametrize(("optim", "shown"), [
    ({"optimizer": "adam"}, set()),
    ({"optimizer": "sgd"}, {"optim.momentum", "optim.nesterov"}),
    ({"optimizer": "rmsprop"}, {"optim.momentum"}),
    ({"scheduler": "step"}, {"optim.step_size", "optim.gamma"}),
    ({"scheduler": "plateau"}, {"optim.factor", "optim.plateau_patience"}),
    ({"scheduler": "cosine"}, set()),
])
def test_optimizer_and_scheduler_knobs_apply_to_their_choice(optim: dict[str, Any], shown: set[str]) -> None:
    c = _config({"optim": optim})
    conditional = {"optim.momentum", "optim.nesterov", "optim.step_size", "optim.gamma", "optim.factor",
                   "optim.plateau_patience"}
    assert {k for k in conditional if c.applies(k)} == shown


def test_applies_rejects_an_unknown_key() -> None:
    with pytest.raises(ConfigError, match="did you mean 'model.channels'"):
        Config().applies("model.chanels")


# --- coerce -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "given", "expected"), [
    ("optim.batch_size", 64.0, 64),  # an integral float is an integer
    ("optim.lr", 1, 1.0),
    ("optim.lr", 100, 100.0),  # the upper bound is inclusive
    ("optim.lr", 1e-300, 1e-300),
    ("optim.momentum", 0, 0.0),
    ("model.hidden", [256, 128], (256, 128)),
    ("task.feature_columns", ["a", "b"], ("a", "b")),
    ("task.name", "pkg.sub.module:make_task", "pkg.sub.module:make_task"),  # a plugin
    ("run.device", "cuda:3", "cuda:3"),
    ("run.seed", 2**32 - 1, 2**32 - 1),
    ("early_stop.restore_best", False, False),
    ("task.options", {"a": [1, 2]}, {"a": [1, 2]}),
])
def test_coerce_accepts_and_canonicalises(key: str, given: Any, expected: Any) -> None:
    value = coerce(field_info(key), given)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("key", "given", "rule"), [
    ("optim.batch_size", True, "must be an integer"),
    ("optim.batch_size", 1.5, "must be an integer"),
    ("optim.batch_size", 0, "must be >= 1"),
    ("optim.lr", 0.0, "must be > 0"),
    ("optim.lr", 100.5, "must be <= 100"),
    ("optim.lr", float("nan"), "must be a finite number"),
    ("optim.lr", float("inf"), "must be a finite number"),
    ("optim.lr", "0.1", "must be a number"),
    ("optim.lr", False, "must be a number"),
    ("optim.nesterov", 1, "must be true or false"),
    ("optim.nesterov", "true", "must be true or false"),
    ("model.hidden", 64, "must be a list"),
    ("model.hidden", [], "at least 1 item"),
    ("model.hidden", [64, 0], "item 1 must be >= 1"),
    ("model.hidden", [64, True], "item 1 must be an integer"),
    ("task.feature_columns", ["a", ""], "item 1 must be a non-empty string"),
    ("task.name", "toy3d", "did you mean 'toy2d'"),
    ("task.name", "not a module", "package.module:function"),
    ("run.device", "gpu", "must be auto, cpu, cuda, cuda:N or mps"),
    ("run.seed", 2**32, "must be <= 4294967295"),
    ("task.options", [1], "must be a table"),
    ("task.path", 3, "must be a string"),
])
def test_coerce_rejects_naming_key_rule_and_value(key: str, given: Any, rule: str) -> None:
    with pytest.raises(ConfigError) as err:
        coerce(field_info(key), given)
    assert err.value.key == key and err.value.has_value
    message = str(err.value)
    assert message.startswith(f"{key}: ") and rule in message and ", got " in message


# --- from_dict, to_dict, with_updates -------------------------------------------------------------------

@pytest.mark.parametrize(("data", "key", "pieces"), [
    ({"optimm": {"lr": 0.1}}, "optimm", ["unknown table", "did you mean 'optim'"]),
    ({"optim": {"lrr": 0.1}}, "optim.lrr", ["unknown key", "did you mean 'optim.lr'"]),
    ({"optim": 0.1}, "optim", ["must be a table [optim]", "got 0.1"]),
    ({"name": 3}, "name", ["must be a string", "got 3"]),
    ({"reg": {"dropout": 1.5}}, "reg.dropout", ["must be <= 0.95", "got 1.5"]),
])
def test_from_dict_rejects(data: dict[str, Any], key: str, pieces: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_dict(data)
    assert err.value.key == key
    for piece in pieces:
        assert piece in str(err.value)


def test_from_dict_does_not_modify_its_input_and_to_dict_is_plain() -> None:
    data = {"name": "w", "model": {"hidden": [8, 4]}, "optim": {"lr": 1}}
    c = Config.from_dict(data)
    assert data == {"name": "w", "model": {"hidden": [8, 4]}, "optim": {"lr": 1}}
    assert c.model.hidden == (8, 4) and c.optim.lr == 1.0 and isinstance(c.optim.lr, float)
    d = c.to_dict()
    assert d["name"] == "w" and d["model"]["hidden"] == [8, 4]
    assert list(d) == ["name", *GROUPS]
    assert Config.from_dict(d) == c
    hash(c)  # frozen and hashable, so it can key caches


def test_with_updates_returns_a_new_validated_config() -> None:
    base = Config.from_dict({"name": "base", "optim": {"optimizer": "sgd", "momentum": 0.9}})
    new = base.with_updates({"optim.lr": 0.5, "model.hidden": [3, 2], "name": "new"})
    assert (new.optim.lr, new.model.hidden, new.name) == (0.5, (3, 2), "new")
    assert new.optim.momentum == 0.9  # untouched keys are kept
    assert base.optim.lr == 1e-3 and base.name == "base"  # the original is unchanged
    assert new.with_updates({}) == new
    with pytest.raises(ConfigError, match=r"optim\.lr: must be > 0, got -1"):
        base.with_updates({"optim.lr": -1})
    with pytest.raises(ConfigError, match=r"did you mean 'optim.momentum'"):
        base.with_updates({"optim.momentun": 0.5})
    with pytest.raises(ConfigError, match=r"optim\.nesterov: needs optim\.momentum > 0"):
        base.with_updates({"optim.momentum": 0.0, "optim.nesterov": True})


@pytest.mark.parametrize("key", ["lr", "optim", "nothing.lr", "optim.", "optim.lr.x"])
def test_set_dotted_rejects_keys_that_do_not_exist(key: str) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        set_dotted({}, key, 1)


# --- cross-field rules ------------------------------------------------------------------------------

BAD_COMBOS = [
    pytest.param({"task": {"name": "toy2d"}, "model": {"kind": "cnn"}}, "model.kind", "cnn",
                 "needs task.name = 'text-csv' with task.vectorizer = 'char-matrix'", id="cnn-toy2d"),
    pytest.param({"task": {"name": "text-csv", "path": "x.csv", "vectorizer": "char-bow"}, "model": {"kind": "cnn"}},
                 "model.kind", "cnn", "char-matrix", id="cnn-char-bow"),
    pytest.param({"task": {"name": "text-csv", "path": "x.csv", "vectorizer": "char-matrix"}},
                 "task.vectorizer", "char-matrix", "needs model.kind = 'cnn'", id="char-matrix-mlp"),
    pytest.param({"optim": {"optimizer": "sgd", "nesterov": True}}, "optim.nesterov", True,
                 "needs optim.momentum > 0", id="nesterov-no-momentum"),
    pytest.param({"task": {"name": "toy2d"}, "optim": {"loss": "mse"}}, "optim.loss", "mse",
                 "is a classification", id="mse-toy2d"),
    pytest.param({"task": {"name": "text-csv", "path": "x.csv"}, "optim": {"loss": "huber"}}, "optim.loss",
                 "huber", "is a classification", id="huber-text"),
    pytest.param({"task": {"name": "curve"}, "optim": {"loss": "cross_entropy"}}, "optim.loss", "cross_entropy",
                 "is a regression", id="ce-curve"),
    pytest.param({"task": {"name": "table-csv", "path": "x.csv", "problem": "regression"},
                  "optim": {"loss": "bce_with_logits"}}, "optim.loss", "bce_with_logits", "is a regression",
                 id="bce-table-regression"),
    pytest.param({"task": {"name": "curve"}, "early_stop": {"monitor": "val_acc"}}, "early_stop.monitor",
                 "val_acc", "needs a classification task", id="val-acc-curve"),
    pytest.param({"run": {"precision": "bf16", "device": "cpu"}}, "run.precision", "bf16",
                 "needs a CUDA device", id="bf16-cpu"),
    pytest.param({"run": {"precision": "fp16", "device": "mps"}}, "run.precision", "fp16",
                 "needs a CUDA device", id="fp16-mps"),
    pytest.param({"task": {"name": "text-csv"}}, "task.path", "", "--set task.path=FILE", id="text-no-path"),
    pytest.param({"task": {"name": "table-csv"}}, "task.path", "", "is required for task 'table-csv'",
                 id="table-no-path"),
]


@pytest.mark.parametrize(("data", "key", "value", "rule"), BAD_COMBOS)
def test_cross_field_rules_reject(data: dict[str, Any], key: str, value: Any, rule: str) -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_dict(data)
    assert err.value.key == key and err.value.value == value
    message = str(err.value)
    assert message.startswith(f"{key}: ") and rule in message and f", got {value!r}" in message


@pytest.mark.parametrize("data", [
    pytest.param(CNN, id="cnn-char-matrix"),
    pytest.param({"task": {"name": "pkg.mod:fn"}, "model": {"kind": "cnn"}}, id="plugin-cnn"),
    pytest.param({"optim": {"optimizer": "sgd", "momentum": 0.9, "nesterov": True}}, id="nesterov-momentum"),
    pytest.param({"optim": {"optimizer": "adam", "nesterov": True}}, id="nesterov-ignored-for-adam"),
    pytest.param({"task": {"name": "curve"}, "optim": {"loss": "huber"}}, id="huber-curve"),
    pytest.param({"task": {"name": "table-csv", "path": "x.csv"}, "optim": {"loss": "mse"},
                  "early_stop": {"monitor": "val_acc"}}, id="table-auto-either"),
    pytest.param({"task": {"name": "toy2d"}, "early_stop": {"monitor": "val_acc"}}, id="val-acc-toy2d"),
    pytest.param({"run": {"precision": "bf16", "device": "cuda:1"}}, id="bf16-cuda"),
    pytest.param({"run": {"precision": "fp16", "device": "auto"}}, id="fp16-auto"),
])
def test_cross_field_rules_accept(data: dict[str, Any]) -> None:
    c = Config.from_dict(data)
    check_consistency(c)


@pytest.mark.parametrize("task", BUILTIN_TASKS)
def test_every_builtin_task_has_a_valid_minimal_config(task: str) -> None:
    data: dict[str, Any] = {"task": {"name": task}}
    if task.endswith("-csv") or task == "script":
        data["task"]["path"] = "data.csv" if task != "script" else "train.py"
    assert Config.from_dict(data).task.name == task


# --- ConfigError --------------------------------------------------------------------------------------

def test_config_error_message_format() -> None:
    e = ConfigError("must be > 0", key="optim.lr", value=-0.1, file="presets/a.toml", line=4)
    assert str(e) == "presets/a.toml:4: optim.lr: must be > 0, got -0.1"
    assert str(ConfigError("must be a string", key="name", value="x")) == "name: must be a string, got 'x'"
    assert str(ConfigError("exists", file="p.toml")) == "p.toml: exists"
    assert str(ConfigError("r", key="k", value=None)) == "k: r, got None"  # a given None is shown
    moved = ConfigError("rule", key="k", value=1, line=7).located("f.toml", 2)
    assert str(moved) == "f.toml:7: k: rule, got 1"  # a known line is kept
    assert str(ConfigError("rule", key="k").located("f.toml", 2)) == "f.toml:2: k: rule"
