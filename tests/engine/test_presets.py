"""Presets: TOML round trips for many configs, errors that point at the file, line, key, rule and value,
`--set` overrides, `extends`, and the shipped presets."""
from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config.groups import BUILTIN_TASKS, CSV_TASKS, GROUPS, Config, iter_fields
from engine.errors import ConfigError
from engine.config.presets import (
    find_preset, load_config_text, load_preset, locate_line, parse_override, save_preset, shipped_dir,
    shipped_names, to_toml,
)
from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, INT_LIST, STR, STR_LIST, TABLE, FieldInfo

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SHIPPED = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "presets").glob("*.toml"))
NEEDS_PATH = {"surnames-mlp", "surnames-cnn"}


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
    if task["name"] in CSV_TASKS and not task["path"]:
        task["path"] = "data.csv"
    char_matrix = task["name"] == "text-csv" and task["vectorizer"] == "char-matrix"
    if model["kind"] == "cnn" and not char_matrix:
        if task["name"] == "text-csv":
            task["vectorizer"] = "char-matrix"
        else:
            model["kind"] = "mlp"
    elif char_matrix and model["kind"] != "cnn":
        model["kind"] = "cnn"
    if optim["optimizer"] == "sgd" and optim["nesterov"] and optim["momentum"] <= 0:
        optim["momentum"] = 0.9
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


# --- bad presets ------------------------------------------------------------------------------------

# (id, preset text, key or None, pieces of the rule, the value as shown after ", got " or None, line or None)
BAD_PRESETS: list[tuple[str, str, str | None, list[str], str | None, int | None]] = [
    ("toml-syntax", 'name = "x"\n\n[optim]\nlr = \n', None, ["TOML syntax error"], None, 4),
    ("toml-unclosed-table", "[optim\nlr = 0.1\n", None, ["TOML syntax error"], None, 1),
    ("toml-duplicate-key", "[optim]\nlr = 0.1\nlr = 0.2\n", None, ["TOML syntax error"], None, 3),
    ("unknown-key", "[optim]\nlr = 0.1\nlrr = 0.2\n", "optim.lrr", ["unknown key", "did you mean 'optim.lr'?"],
     None, 3),
    ("unknown-key-in-later-table", "[task]\nname = 'toy2d'\n\n[model]\nhiden = [3]\n", "model.hiden",
     ["unknown key", "did you mean 'model.hidden'?"], None, 5),
    ("unknown-table", "[task]\nname = 'toy2d'\n\n[optimm]\nlr = 0.1\n", "optimm",
     ["unknown table", "did you mean 'optim'?"], None, 4),
    ("lr-string", "[optim]\nlr = 'fast'\n", "optim.lr", ["must be a number"], "'fast'", 2),
    ("lr-negative", "[optim]\noptimizer = 'adam'\nlr = -0.1\n", "optim.lr", ["must be > 0"], "-0.1", 3),
    ("lr-dotted-top-level", "name = 'x'\noptim.lr = -1\n", "optim.lr", ["must be > 0"], "-1.0", 2),
    ("dropout-too-high", "[model]\nkind = 'mlp'\n\n[reg]\nweight_decay = 0.0\ndropout = 1.5\n", "reg.dropout",
     ["must be <= 0.95"], "1.5", 6),
    ("choice-typo", '[optim]\noptimizer = "adamm"\n', "optim.optimizer",
     ["must be one of sgd, adam, adamw, rmsprop, adagrad", "did you mean 'adam'?"], "'adamm'", 2),
    ("hidden-non-integer", '[model]\nhidden = [64, "a"]\n', "model.hidden", ["item 1 must be an integer"],
     "[64, 'a']", 2),
    ("batch-size-float", "[optim]\nbatch_size = 6.5\n", "optim.batch_size", ["must be an integer"], "6.5", 2),
    ("bool-as-string", "[early_stop]\nrestore_best = 'yes'\n", "early_stop.restore_best",
     ["must be true or false"], "'yes'", 2),
    ("name-not-string", "name = 3\n", "name", ["must be a string"], "3", 1),
    ("cnn-on-toy2d", "[task]\nname = 'toy2d'\n\n[model]\nkind = 'cnn'\n", "model.kind",
     ["needs task.name = 'text-csv' with task.vectorizer = 'char-matrix'"], "'cnn'", 5),
    ("nesterov-without-momentum", "[optim]\noptimizer = 'sgd'\nmomentum = 0.0\nnesterov = true\n",
     "optim.nesterov", ["needs optim.momentum > 0"], "True", 4),
    ("mse-on-toy2d", "[task]\nname = 'toy2d'\n\n[optim]\nlr = 0.1\nloss = 'mse'\n", "optim.loss",
     ["task 'toy2d' is a classification"], "'mse'", 6),
    ("val-acc-on-curve", "[task]\nname = 'curve'\n\n[early_stop]\npatience = 3\nmonitor = 'val_acc'\n",
     "early_stop.monitor", ["val_acc needs a classification task"], "'val_acc'", 6),
    ("bf16-on-cpu", "[run]\nprecision = 'bf16'\ndevice = 'cpu'\n", "run.precision",
     ["mixed precision needs a CUDA device", "'cpu'"], "'bf16'", 2),
    # path is not in the file: the error points at the [task] table that chose the CSV task.
    ("text-csv-no-path", "name = 'x'\n\n[task]\nname = 'text-csv'\n", "task.path",
     ["is required for task 'text-csv'", "--set task.path=FILE"], "''", 3),
    ("text-csv-empty-path", "[task]\nname = 'text-csv'\npath = ''\n", "task.path",
     ["is required for task 'text-csv'"], "''", 3),
    ("extends-not-a-string", "extends = 3\n", "extends", ["must be a file name or a shipped preset name"], "3", 1),
]


@pytest.mark.parametrize(("text", "key", "pieces", "shown", "line"),
                         [pytest.param(*case[1:], id=case[0]) for case in BAD_PRESETS])
def test_bad_preset_errors_name_file_line_key_rule_and_value(
        tmp_path: Path, text: str, key: str | None, pieces: list[str], shown: str | None, line: int | None) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    e = err.value
    message = str(e)
    assert e.file == str(path)
    assert e.line == line
    where = f"{path}:{line}: " if line else f"{path}: "
    assert message.startswith(where + (f"{key}: " if key else ""))
    assert e.key == key
    for piece in pieces:
        assert piece in message
    if shown is not None:
        assert message.endswith(f", got {shown}")
    if key is None:  # a TOML error: the position is in .line and the prefix, not repeated in the rule
        assert "(at line" not in message
    # The same text through load_config_text names its source (no line for TOML errors there, see below).
    with pytest.raises(ConfigError) as again:
        load_config_text(text, source="clip")
    assert str(again.value).startswith("clip")


def test_errors_from_a_base_preset_point_into_the_base(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text("# base\n[optim]\nlr = 0.1\nmomentum = 2.0\n", encoding="utf-8")
    (tmp_path / "child.toml").write_text("extends = 'base.toml'\n\n[optim]\nlr = 0.2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_preset(tmp_path / "child.toml")
    assert str(err.value) == f"{tmp_path / 'base.toml'}:4: optim.momentum: must be <= 0.999999, got 2.0"
    # A value the child overrides is the child's: its error points at the child.
    (tmp_path / "child.toml").write_text("extends = 'base.toml'\n\n[optim]\nmomentum = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_preset(tmp_path / "child.toml")
    assert str(err.value) == f"{tmp_path / 'child.toml'}:4: optim.momentum: must be >= 0, got -1.0"


def test_extends_loop_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("extends = 'b.toml'\n[optim]\nlr = 0.1\n", encoding="utf-8")
    (tmp_path / "b.toml").write_text("extends = 'a.toml'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_preset(tmp_path / "a.toml")
    message = str(err.value)
    assert err.value.key == "extends" and "extends loop" in message
    a, b = str((tmp_path / "a.toml").resolve()), str((tmp_path / "b.toml").resolve())
    assert f"{a} -> {b} -> {a}" in message
    assert message.startswith(str(tmp_path))


def test_extends_itself_is_a_loop(tmp_path: Path) -> None:
    (tmp_path / "self.toml").write_text("extends = 'self.toml'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="extends loop"):
        load_preset(tmp_path / "self.toml")


def test_extends_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "child.toml"
    path.write_text("# comment\nextends = 'curv-l2.toml'\n[optim]\nlr = 0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2: extends: no preset file or shipped preset by that name")
    assert "did you mean 'curve-l2'?" in message
    assert message.endswith(", got 'curv-l2.toml'")


def test_extends_resolves_relative_to_the_preset_not_the_cwd(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "base.toml").write_text("[optim]\nlr = 0.25\n", encoding="utf-8")
    (sub / "child.toml").write_text("extends = 'base.toml'\n[model]\nhidden = [5]\n", encoding="utf-8")
    (tmp_path / "base.toml").write_text("[optim]\nlr = 0.75\n", encoding="utf-8")  # a decoy in the cwd
    monkeypatch.chdir(tmp_path)
    c = load_preset("sub/child.toml")
    assert (c.optim.lr, c.model.hidden, c.name) == (0.25, (5,), "child")


def test_an_unreadable_preset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    assert str(err.value).startswith(f"{path}: cannot be read")


# --- locate_line ------------------------------------------------------------------------------------

LOCATE_TEXT = """\
# lr = 9 in a comment
name = "x"
extends = "base.toml"
optim.lr = 0.5

[optim]   # the optimizer
plateau_patience = 2
  lr = 0.1
"momentum" = 0.9

[early_stop]
patience = 3
"""


@pytest.mark.parametrize(("group", "name", "line"), [
    ("", "name", 2),
    ("", "extends", 3),
    ("optim", "lr", 4),  # a dotted key at top level comes first
    ("optim", "plateau_patience", 7),
    ("optim", "momentum", 9),  # quoted key
    ("early_stop", "patience", 12),  # not optim's plateau_patience
    ("optim", "patience", None),
    ("optim", "nesterov", None),
    ("reg", "l1", None),
    ("", "[optim]", 6),  # a table header, with a comment after it
    ("", "[early_stop]", 11),
    ("", "[reg]", None),
])
def test_locate_line(group: str, name: str, line: int | None) -> None:
    assert locate_line(LOCATE_TEXT, group, name) == line


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


# --- shipped presets --------------------------------------------------------------------------------

def test_shipped_names_are_the_presets_folder() -> None:
    assert shipped_names() == SHIPPED
    assert shipped_dir().resolve() == (Path(__file__).resolve().parents[2] / "presets")
    assert {"toy2d-mlp", "toy2d-perceptron", "curve", "curve-l2", "surnames-mlp", "surnames-cnn"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_preset_loads(name: str) -> None:
    overrides = ["task.path=x.csv"] if name in NEEDS_PATH else []
    c = load_preset(name, overrides)
    assert c.name == ("my-text-classifier" if name == "template" else name)
    assert load_config_text(to_toml(c)) == c
    assert load_preset(name + ".toml", overrides) == c
    assert load_preset(shipped_dir() / f"{name}.toml", overrides) == c


@pytest.mark.parametrize("name", sorted(NEEDS_PATH))
def test_surnames_presets_say_how_to_give_the_data_path(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_preset(name)
    message = str(err.value)
    assert err.value.key == "task.path"
    assert "is required for task 'text-csv'" in message and "--set task.path=FILE" in message
    mlp = shipped_dir() / "surnames-mlp.toml"
    assert message.startswith(f"{mlp}:{locate_line(mlp.read_text(encoding='utf-8'), 'task', 'path')}: ")


def test_surnames_mlp_has_the_books_settings() -> None:
    c = load_preset("surnames-mlp", ["task.path=surnames_with_splits.csv"])
    assert c.task.name == "text-csv" and c.task.path == "surnames_with_splits.csv"
    assert (c.task.text_column, c.task.label_column, c.task.split_column) == ("surname", "nationality", "split")
    assert c.task.vectorizer == "char-bow"
    assert c.model.kind == "mlp" and c.model.hidden == (300,)
    assert (c.optim.optimizer, c.optim.lr, c.optim.batch_size, c.optim.max_epochs) == ("adam", 1e-3, 64, 100)
    assert c.optim.class_weights == "balanced" and c.optim.loss == "cross_entropy"
    assert (c.optim.scheduler, c.optim.factor, c.optim.plateau_patience) == ("plateau", 0.5, 1)
    assert (c.early_stop.patience, c.early_stop.monitor) == (5, "val_loss")
    assert c.run.seed == 1337


def test_surnames_cnn_extends_the_mlp_with_the_books_cnn() -> None:
    mlp = load_preset("surnames-mlp", ["task.path=s.csv"])
    cnn = load_preset("surnames-cnn", ["task.path=s.csv"])
    assert cnn.task.vectorizer == "char-matrix"
    assert (cnn.model.kind, cnn.model.channels, cnn.model.kernel_size, cnn.model.conv_layers) == ("cnn", 256, 3, 4)
    assert cnn.optim.batch_size == 128
    # Everything else comes from the MLP preset.
    assert dataclasses.replace(cnn.optim, batch_size=64) == mlp.optim
    assert cnn.early_stop == mlp.early_stop and cnn.run == mlp.run and cnn.reg == mlp.reg
    assert dataclasses.replace(cnn.task, vectorizer="char-bow") == mlp.task


def test_extends_merges_per_key() -> None:
    curve, l2 = load_preset("curve"), load_preset("curve-l2")
    assert l2.reg.weight_decay == 0.01 and curve.reg.weight_decay == 0.0
    assert l2.model.hidden == curve.model.hidden == (256, 256)
    assert l2.name == "curve-l2"
    assert dataclasses.replace(l2, name="curve", reg=curve.reg) == curve


def test_a_user_preset_extends_a_shipped_one_by_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("name = 'mine'\nextends = 'curve'\n\n[model]\nhidden = [32]\n", encoding="utf-8")
    c = load_preset(path)
    assert (c.name, c.task.name, c.task.n_samples, c.model.hidden, c.model.activation) == (
        "mine", "curve", 60, (32,), "tanh")


def test_presets_are_found_by_name_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = load_preset("curve-l2")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "curve.toml").write_text("this is not TOML", encoding="utf-8")  # must not shadow the base
    assert find_preset("curve-l2") == shipped_dir() / "curve-l2.toml"
    assert load_preset("curve-l2") == here
    assert load_preset("toy2d-mlp").name == "toy2d-mlp"
    (tmp_path / "own.toml").write_text("[optim]\nlr = 0.5\n", encoding="utf-8")
    assert find_preset("own.toml") == tmp_path / "own.toml"
    assert load_preset("own.toml").optim.lr == 0.5


@pytest.mark.parametrize(("ref", "suggestion"), [("curv-l2", "curve-l2"), ("toy2d-mpl", "toy2d-mlp"),
                                                ("surnames-cn.toml", "surnames-cnn")])
def test_find_preset_suggests_a_shipped_name(ref: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as err:
        find_preset(ref)
    message = str(err.value)
    assert f"did you mean {suggestion!r}?" in message
    assert "shipped: " + ", ".join(SHIPPED) in message
    assert message.endswith(f", got {ref!r}")


def test_find_preset_without_a_close_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError) as err:
        find_preset("zzzzzz")
    assert "did you mean" not in str(err.value) and "shipped: curve" in str(err.value)


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


def test_load_config_text_syntax_error_has_its_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text('name = "x"\n\n[optim]\nlr = \n', source="clip")
    assert err.value.line == 4
    assert str(err.value).startswith("clip:4: TOML syntax error")


def test_an_empty_unknown_table_is_located(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("name = 'x'\n\n[optimm]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    assert str(err.value).startswith(f"{path}:3: optimm: unknown table")


@pytest.mark.parametrize("item, key, expected", [
    ("name=2024", "name", "2024"),
    ("task.path=inf", "task.path", "inf"),
    ("task.text_column=2024-01-01", "task.text_column", "2024-01-01"),
    ("optim.lr=inf", "optim.lr", float("inf")),
])
def test_override_of_a_text_knob_keeps_the_text(item: str, key: str, expected: object) -> None:
    assert parse_override(item) == (key, expected)
