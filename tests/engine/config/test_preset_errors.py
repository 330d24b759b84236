"""Bad presets: errors that point at the file, line, key, rule and value, `extends` gone wrong, and how
a key's line is found in the text."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.presets import load_config_text, load_preset, locate_line
from engine.errors import ConfigError

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


# --- fixed bugs, kept as regressions ---------------------------------------------------------------

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
