"""The user's own knobs: `[params]` declarations, their values, `--set`, the stored round trip, and
errors that name the file, the line, the key, the rule and the value."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.config.knob_text import read_text
from engine.config.knobs import CHOICE, FLOAT, INT, INT_LIST
from engine.config.presets import dict_to_toml, load_config_text, load_preset, to_toml
from engine.errors import ConfigError

DECLARED = """\
[task]
name = "mypkg.tasks:make"

[params]
num_heads = { type = "int", default = 4, low = 1, high = 16, help = "attention heads" }
warmup = { type = "float", default = 1e-3, low = 1e-6, high = 1.0, log = true }
norm = { type = "str", default = "layer", choices = ["layer", "batch"] }
tied = { type = "bool", default = false }
widths = { type = "int_list", default = [64, 32], low = 1 }
tag = { type = "str", default = "" }
"""


def _write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_declarations_become_knobs_with_defaults(tmp_path: Path) -> None:
    c = load_preset(_write(tmp_path, DECLARED))
    assert c.params == {"num_heads": 4, "warmup": 1e-3, "norm": "layer", "tied": False, "widths": (64, 32),
                        "tag": ""}
    info = c.field_info("params.num_heads")
    assert (info.group, info.key, info.knob.kind, info.knob.low, info.knob.high) == ("params", "params.num_heads",
                                                                                      INT, 1, 16)
    assert info.knob.help == "attention heads"
    assert c.field_info("params.norm").knob.kind == CHOICE
    assert c.field_info("params.warmup").knob.kind == FLOAT and c.field_info("params.warmup").knob.log
    assert c.field_info("params.widths").knob.kind == INT_LIST
    assert [f.key for f in c.fields()][-6:] == ["params.num_heads", "params.warmup", "params.norm", "params.tied",
                                                "params.widths", "params.tag"]
    assert c.flat()["params.num_heads"] == 4 and c.get("params.norm") == "layer" and c.applies("params.tied")
    # the form's grammar reads a param's text like a built-in knob's
    assert read_text(c.field_info("params.widths"), "8, 4") == (8, 4)


def test_a_config_without_params_stores_none() -> None:
    c = Config()
    assert c.params == {} and c.param_fields == ()
    assert "params" not in c.to_dict() and "params_spec" not in c.to_dict()


def test_overrides_and_updates_are_checked_by_the_declaration(tmp_path: Path) -> None:
    path = _write(tmp_path, DECLARED)
    c = load_preset(path, ["params.num_heads=8", "params.widths=3,2", "params.norm=batch", "params.tied=yes"])
    assert c.params["num_heads"] == 8 and c.params["widths"] == (3, 2) and c.params["norm"] == "batch"
    assert c.params["tied"] is True
    assert c.with_updates({"params.num_heads": 2}).params["num_heads"] == 2
    with pytest.raises(ConfigError) as err:
        load_preset(path, ["params.num_heads=32"])
    assert str(err.value) == "--set: params.num_heads: must be <= 16, got 32"
    with pytest.raises(ConfigError) as err:
        load_preset(path, ["params.num_head=3"])
    assert str(err.value).startswith("--set: params.num_head: is not declared (did you mean 'num_heads'?)")
    with pytest.raises(ConfigError) as err:
        c.with_updates({"params.norm": "group"})
    assert err.value.key == "params.norm" and "must be one of layer, batch" in err.value.rule
    with pytest.raises(ConfigError) as err:
        Config().with_updates({"params.x": 1})
    assert err.value.key == "params.x" and "is not declared" in err.value.rule


def test_a_child_preset_sets_a_value_declared_in_its_base(tmp_path: Path) -> None:
    _write(tmp_path, DECLARED, "base.toml")
    child = _write(tmp_path, 'extends = "base.toml"\n\n[params]\nnum_heads = 12\n', "child.toml")
    assert load_preset(child).params["num_heads"] == 12
    bad = _write(tmp_path, 'extends = "base.toml"\n\n[params]\nnum_heads = 0\n', "bad.toml")
    with pytest.raises(ConfigError) as err:
        load_preset(bad)
    assert str(err.value) == f"{bad}:4: params.num_heads: must be >= 1, got 0"


def test_round_trip_through_the_stored_dict_and_toml(tmp_path: Path) -> None:
    c = load_preset(_write(tmp_path, DECLARED), ["params.num_heads=8"])
    stored = c.to_dict()
    assert stored["params"] == {"num_heads": 8, "warmup": 1e-3, "norm": "layer", "tied": False, "widths": [64, 32],
                                "tag": ""}
    assert stored["params_spec"]["num_heads"] == {"type": "int", "default": 4, "low": 1, "high": 16,
                                                  "help": "attention heads"}
    assert Config.from_dict(stored) == c
    text = to_toml(c)
    assert 'num_heads = { type = "int", default = 8, low = 1, high = 16, help = "attention heads" }' in text
    again = load_config_text(text)
    assert again.params == c.params and again.flat() == c.flat()
    assert dict_to_toml(stored) == text
    reloaded = load_preset(_write(tmp_path, text, "shown.toml"))
    assert reloaded.to_dict()["params"] == stored["params"]


# (id, declaration, pieces of the rule, the value as shown after ", got " or None)
BAD_DECLARATIONS: list[tuple[str, str, list[str], str | None]] = [
    ("unknown-type", '{ type = "integer", default = 4 }', ["type must be one of", "did you mean 'int'?"],
     "'integer'"),
    ("no-type", "{ default = 4 }", ["type must be one of", "missing"], "''"),
    ("no-default", '{ type = "int" }', ["needs a default"], None),
    ("default-above-high", '{ type = "int", default = 40, low = 1, high = 16 }', ["default must be <= 16"], "40"),
    ("default-wrong-type", '{ type = "int", default = "four" }', ["default must be an integer"], "'four'"),
    ("bool-default-not-bool", '{ type = "bool", default = 1 }', ["default must be true or false"], "1"),
    ("empty-choices", '{ type = "str", default = "a", choices = [] }', ["choices must be a non-empty list"], "[]"),
    ("default-not-a-choice", '{ type = "str", default = "c", choices = ["a", "b"] }',
     ["default must be one of a, b"], "'c'"),
    ("choices-on-int", '{ type = "int", default = 1, choices = ["a"] }', ["choices apply to a str param only"],
     "['a']"),
    ("low-above-high", '{ type = "float", default = 1.0, low = 2.0, high = 1.0 }', ["low must be <= high"], None),
    ("log-low-zero", '{ type = "float", default = 0.1, low = 0.0, high = 1.0, log = true }',
     ["log needs low > 0"], "0.0"),
    ("log-on-int", '{ type = "int", default = 2, low = 1, high = 8, log = true }', ["log applies to a float only"],
     "'int'"),
    ("unknown-entry", '{ type = "int", default = 2, hgih = 8 }', ["unknown entry 'hgih'", "did you mean 'high'?"],
     "8"),
    ("a-value-not-a-declaration", "4", ["is not declared; declared: other"], None),
    ("list-item-low", '{ type = "int_list", default = [0], low = 1 }', ["default item 0 must be >= 1"], "[0]"),
]


@pytest.mark.parametrize("case", BAD_DECLARATIONS, ids=[c[0] for c in BAD_DECLARATIONS])
def test_a_bad_declaration_names_file_line_key_rule_and_value(tmp_path: Path, case: tuple) -> None:
    _, declaration, pieces, shown = case
    path = _write(tmp_path, f'name = "x"\n\n[params]\nother = {{ type = "bool", default = true }}\n'
                            f"num_heads = {declaration}\n")
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    exc = err.value
    assert (exc.file, exc.line, exc.key) == (str(path), 5, "params.num_heads")
    for piece in pieces:
        assert piece in exc.rule
    assert str(exc).startswith(f"{path}:5: params.num_heads: ")
    assert "\n" not in str(exc)
    if shown is not None:
        assert str(exc).endswith(f", got {shown}")


@pytest.mark.parametrize("name, piece", [("optim", "built-in group"), ("name", "built-in group"),
                                         ("2heads", "Python identifier"), ("class", "Python identifier"),
                                         ("num-heads", "Python identifier")])
def test_a_bad_param_name_is_refused_where_it_is_declared(tmp_path: Path, name: str, piece: str) -> None:
    path = _write(tmp_path, f'[params]\n"{name}" = {{ type = "int", default = 1 }}\n')
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    assert (err.value.file, err.value.line, err.value.key) == (str(path), 2, f"params.{name}")
    assert piece in err.value.rule


def test_a_sub_table_declaration_is_located_by_its_header(tmp_path: Path) -> None:
    path = _write(tmp_path, '[task]\nname = "toy2d"\n\n[params.heads]\ntype = "int"\ndefault = 99\nhigh = 16\n')
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    assert str(err.value) == f"{path}:4: params.heads: default must be <= 16, got 99"


def test_stored_dicts_are_validated_too() -> None:
    stored = Config().to_dict() | {"params_spec": {"k": {"type": "int", "default": 1, "high": 3}},
                                   "params": {"k": 5}}
    with pytest.raises(ConfigError) as err:
        Config.from_dict(stored)
    assert str(err.value) == "params.k: must be <= 3, got 5"
    with pytest.raises(ConfigError) as err:
        Config.from_dict({"params_spec": [1]})
    assert err.value.key == "params_spec"
