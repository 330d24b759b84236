"""One text grammar per knob kind: `--set group.key=text` and the form's field read the same texts
as the same values, refuse the same texts with the same rule, and a value written as text reads
back as itself; no text, however odd, escapes as anything but a ConfigError."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import iter_fields
from engine.config.knob_text import KINDS, format_text, parse_text, read_text
from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, INT_LIST, STR, STR_LIST, TABLE, FieldInfo, coerce
from engine.config.presets import load_preset, parse_override
from engine.config.toml_io import inline_toml, read_literal
from engine.errors import ConfigError
from tui.formvalues import NAME_FIELD, format_value, parse_value

FIELDS = [NAME_FIELD, *iter_fields()]
BY_KEY = {info.key: info for info in FIELDS}

# --- (a) the same texts, the same values, through --set and through the form -------------------------

# Per kind: a knob of that kind, and texts the form and `--set` must both read, with the value.
SAME_TEXTS: dict[str, list[tuple[str, str, Any]]] = {
    INT: [("optim.batch_size", "32", 32), ("optim.batch_size", " 256 ", 256), ("optim.batch_size", "1e3", 1000),
          ("optim.batch_size", "0x40", 64), ("optim.batch_size", "1_024", 1024), ("run.seed", "0", 0)],
    FLOAT: [("optim.lr", "3e-4", 3e-4), ("optim.lr", "0.01", 0.01), ("optim.lr", "2", 2.0),
            ("optim.lr", "1", 1.0), ("reg.dropout", ".5", 0.5)],
    BOOL: [("optim.nesterov", "false", False), ("early_stop.restore_best", "true", True),
           ("early_stop.restore_best", "False", False), ("early_stop.restore_best", "no", False),
           ("early_stop.restore_best", "on", True), ("early_stop.restore_best", "1", True)],
    STR: [("run.device", "cpu", "cpu"), ("run.device", '"cpu"', "cpu"), ("run.device", "cuda:1", "cuda:1"),
          ("task.path", "data/a b.csv", "data/a b.csv"), ("task.path", "", ""), ("task.path", "inf", "inf"),
          ("task.path", "'  padded '", "  padded "), ("task.text_column", "2024-01-01", "2024-01-01"),
          ("name", "2024", "2024"), ("name", "tuned run", "tuned run"), ("name", "a=b", "a=b")],
    CHOICE: [("optim.optimizer", "sgd", "sgd"), ("optim.optimizer", " adamw ", "adamw"),
             ("optim.optimizer", "'rmsprop'", "rmsprop"), ("task.name", "curve", "curve")],
    INT_LIST: [("model.hidden", "256,128", (256, 128)), ("model.hidden", "256, 128", (256, 128)),
               ("model.hidden", "[256, 128]", (256, 128)), ("model.hidden", "[256,128]", (256, 128)),
               ("model.hidden", "64", (64,)), ("model.hidden", "1e3, 0x10", (1000, 16))],
    STR_LIST: [("task.feature_columns", "a, b c", ("a", "b c")), ("task.feature_columns", "x,y", ("x", "y")),
               ("task.feature_columns", '["x,y", "z"]', ("x,y", "z")), ("task.feature_columns", "[a, b]", ("a", "b")),
               ("task.feature_columns", "", ()), ("task.feature_columns", "[]", ())],
    TABLE: [("task.options", "{n = 5}", {"n": 5}), ("task.options", 'n = 5, kind = "x"', {"n": 5, "kind": "x"}),
            ("task.options", "{ sub = { x = 1.5 }, l = [1, 2] }", {"sub": {"x": 1.5}, "l": [1, 2]}),
            ("task.options", "", {})],
}

# Per kind: texts both refuse, with the rule both give.
SAME_REFUSALS: dict[str, list[tuple[str, str, str]]] = {
    INT: [("optim.batch_size", "lots", "must be an integer, got 'lots'"),
          ("optim.batch_size", "1.5", "must be an integer, got '1.5'"), ("optim.batch_size", "0", "must be >= 1")],
    FLOAT: [("optim.lr", "fast", "must be a number, got 'fast'"), ("optim.lr", "-1", "must be > 0, got -1.0"),
            ("optim.lr", "inf", "must be a finite number")],
    BOOL: [("optim.nesterov", "maybe", "must be true or false, got 'maybe'")],
    STR: [("run.device", "gpu", "must be auto, cpu, cuda, cuda:N or mps, got 'gpu'")],
    CHOICE: [("optim.optimizer", "adamm", "did you mean 'adam'?")],
    INT_LIST: [("model.hidden", "256, x", "item 1 must be an integer, got '256, x'"),
               ("model.hidden", '[64,"a"]', "item 1 must be an integer, got [64, 'a']"),
               ("model.hidden", "[1e3]", "item 0 must be an integer, got [1000.0]"),  # TOML typed it a float
               ("model.hidden", "[256, 128", "must be a list like 256, 128"),
               ("model.hidden", "", "must have at least 1 item(s)")],
    STR_LIST: [("task.feature_columns", "a,,b", "item 1 must be a non-empty string")],
    TABLE: [("task.options", "{n = }", "must be a TOML inline table like {n = 5}")],
}


def test_the_cases_cover_every_kind_a_knob_has() -> None:
    present = {info.knob.kind for info in iter_fields()}
    assert present <= set(KINDS)
    assert present <= set(SAME_TEXTS) and present <= set(SAME_REFUSALS)
    for cases in (SAME_TEXTS, SAME_REFUSALS):
        for kind, rows in cases.items():
            assert rows and all(BY_KEY[key].knob.kind == kind for key, *_ in rows), kind


def _set(key: str, text: str) -> Any:
    """What `--set key=text` makes of the value in a real preset."""
    config = load_preset("toy2d-mlp", [f"{key}={text}"])
    return config.name if key == "name" else config.get(key)


@pytest.mark.parametrize(("key", "text", "value"),
                         [row for rows in SAME_TEXTS.values() for row in rows])
def test_set_and_the_form_read_the_same_text_as_the_same_value(key: str, text: str, value: Any) -> None:
    assert parse_value(BY_KEY[key], text) == value
    assert _set(key, text) == value
    assert type(_set(key, text)) is type(value)


@pytest.mark.parametrize(("key", "text", "rule"),
                         [row for rows in SAME_REFUSALS.values() for row in rows])
def test_set_and_the_form_refuse_the_same_text_with_the_same_rule(key: str, text: str, rule: str) -> None:
    with pytest.raises(ConfigError) as form:
        parse_value(BY_KEY[key], text)
    assert rule in str(form.value) and form.value.key == key
    with pytest.raises(ConfigError) as cli:
        load_preset("toy2d-mlp", [f"{key}={text}"])
    assert str(cli.value).startswith(f"--set: {key}: ")
    assert rule in str(cli.value)


def test_set_reads_a_comma_list_the_form_always_read() -> None:
    assert load_preset("toy2d-mlp", ["model.hidden=256,128"]).model.hidden == (256, 128)
    assert load_preset("toy2d-mlp", ["task.feature_columns=a, b"]).task.feature_columns == ("a", "b")


@pytest.mark.parametrize("info", FIELDS, ids=lambda info: info.key)
def test_every_knobs_form_text_is_read_alike_by_set(info: FieldInfo) -> None:
    """The text the form shows for the default is what `--set` reads as the default, knob by knob."""
    text = format_text(info.knob.kind, info.default)
    key, value = parse_override(f"{info.key}={text}")
    assert key == info.key
    assert coerce(info, value) == parse_value(info, text) == coerce(info, info.default)
    shown = format_value(info, info.default)
    assert parse_value(info, shown) == coerce(info, info.default)


def test_plugin_options_and_unknown_keys_keep_the_toml_reading() -> None:
    assert parse_override("task.options.n=5") == ("task.options.n", 5)
    assert parse_override("task.options.tags=[1, 2]") == ("task.options.tags", [1, 2])
    assert parse_override("task.options.word=256,128") == ("task.options.word", "256,128")
    with pytest.raises(ConfigError) as err:
        load_preset("toy2d-mlp", ["optim.lrr=fast"])
    assert str(err.value).startswith("--set: optim.lrr: unknown key (did you mean 'optim.lr'?)")


# --- (b) value -> text -> value, and odd text ------------------------------------------------------------

_INT64 = st.integers(-(2**63), 2**63 - 1)
_FLOATS = st.floats(allow_nan=False)
_TOML_SCALARS = st.one_of(st.booleans(), _INT64, _FLOATS, st.text(max_size=12))
_TOML_VALUES = st.recursive(
    _TOML_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)
KIND_VALUES: dict[str, st.SearchStrategy[Any]] = {
    INT: st.integers(-(10**40), 10**40),
    FLOAT: _FLOATS,
    BOOL: st.booleans(),
    STR: st.text(),
    CHOICE: st.text(),
    INT_LIST: st.lists(st.integers(-(10**30), 10**30), max_size=5),
    STR_LIST: st.lists(st.text(max_size=12), max_size=5),
    TABLE: st.dictionaries(st.text(max_size=8), _TOML_VALUES, max_size=4),
}
_FRAGMENTS = ["[", "]", "{", "}", ",", "=", '"', "'", "'''", "0x", "0o7", "0b1", "1e", "9" * 25, "-", "+",
              ".", "_", "inf", "nan", "true", "no", " ", "\n", "\t", "#", "\\", "a", "x = ", "1", "5.0", "\x00"]
ODD_TEXT = st.one_of(st.text(), st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join),
                     st.integers(1, 3000).map(lambda n: "[" * n), st.integers(1, 6000).map(lambda n: "7" * n),
                     st.integers(1, 2000).map(lambda n: "0x" + "f" * n))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_each_kind_writes_text_that_reads_back_as_the_value(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS), label="kind")
    value = data.draw(KIND_VALUES[kind], label="value")
    text = format_text(kind, value)
    expected = list(value) if kind in (INT_LIST, STR_LIST) else value
    assert parse_text(kind, text, "k") == expected
    if kind == STR:  # --set reads the same text back, `=`, quotes and spaces included
        assert parse_override(f"name={text}") == ("name", value)


def _valid_value(info: FieldInfo) -> st.SearchStrategy[Any]:
    """Values the knob's own rules accept (before the rules that tie knobs together)."""
    k = info.knob
    if k.kind == INT:
        return st.integers(int(k.low if k.low is not None else -(2**40)), int(k.high if k.high is not None else 2**40))
    if k.kind == FLOAT:
        return st.floats(k.low, k.high, exclude_min=k.low_open, allow_nan=False, allow_infinity=False)
    if k.kind == INT_LIST:
        return st.lists(st.integers(int(k.low or 0), int(k.high or 2**40)), min_size=k.min_items, max_size=4)
    if k.kind == STR_LIST:
        return st.lists(st.text(min_size=1, max_size=10), min_size=k.min_items, max_size=4)
    if k.kind == CHOICE:
        return st.sampled_from(k.choices)
    return KIND_VALUES[k.kind]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_every_knob_reads_its_written_value_back_in_the_form_and_in_set(data: st.DataObject) -> None:
    info = data.draw(st.sampled_from(FIELDS), label="knob")
    value = data.draw(_valid_value(info).filter(lambda v: _accepted(info, v)), label="value")
    text = format_text(info.knob.kind, value)
    assert read_text(info, text) == coerce(info, value)
    assert parse_value(info, format_value(info, value)) == coerce(info, value)
    key, parsed = parse_override(f"{info.key}={text}")
    assert key == info.key and coerce(info, parsed) == coerce(info, value)


def _accepted(info: FieldInfo, value: Any) -> bool:
    try:
        coerce(info, value)
    except ConfigError:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(FIELDS), ODD_TEXT)
def test_any_text_is_a_value_or_a_config_error(info: FieldInfo, text: str) -> None:
    for read in (lambda: read_text(info, text), lambda: parse_text(info.knob.kind, text, info.key),
                 lambda: parse_override(f"{info.key}={text}"), lambda: parse_value(info, text)):
        try:
            read()
        except ConfigError as exc:
            assert str(exc)  # the message can be shown, whatever the value
            assert exc.key == info.key or exc.file == "--set"


@settings(max_examples=300, deadline=None)
@given(_TOML_VALUES)
def test_the_one_inline_writer_reads_back(value: Any) -> None:
    assert read_literal(inline_toml(value)) == value
    assert "\n" not in inline_toml(value)
