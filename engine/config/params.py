"""The user's own knobs: a `[params]` table declares them, and each becomes a knob like the built-in ones.

    [params]
    num_heads = { type = "int", default = 4, low = 1, high = 16, help = "attention heads" }
    lr_warmup = { type = "float", default = 1e-3, low = 1e-6, high = 1.0, log = true }
    norm = { type = "str", default = "layer", choices = ["layer", "batch"] }
    tied = { type = "bool", default = false }
    widths = { type = "int_list", default = [64, 32], low = 1 }

A declaration is turned into a `FieldInfo` of group `params` (key `params.<name>`), so the value
rules (`coerce`), the text grammar (`knob_text`), the form's editor, a sweep's checks and the
trial table treat it exactly as they treat `optim.lr`. A stored config keeps its declarations
(`params_spec`) next to the values (`params`, a plain name -> value mapping a script reads).
In a preset's `[params]` table a table declares a param; any other value sets a param declared
in a base preset.
"""
from __future__ import annotations

import keyword
import math
from collections.abc import Iterable, Mapping
from typing import Any

from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, INT_LIST, STR, FieldInfo, Knob, coerce, suggest
from engine.config.limits import int_problem
from engine.errors import ConfigError

PARAMS = "params"
PARAMS_SPEC = "params_spec"
PARAMS_TITLE = "Params"
TYPES: dict[str, str] = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "int_list": INT_LIST}
DECLARATION_KEYS = ("type", "default", "low", "high", "log", "choices", "help")
_RANGED = (INT, FLOAT, INT_LIST)

__all__ = ["PARAMS", "PARAMS_SPEC", "PARAMS_TITLE", "TYPES", "parse_declaration", "parse_declarations",
           "declaration", "param_values", "split_params", "find_param", "set_param"]


def split_params(raw: Any, reserved: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A `[params]` table as (declarations, values): a table declares a param, anything else sets one.

    `reserved` are the names a param may not take (the built-in groups).
    """
    if raw is None:
        return {}, {}
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table [params]", key=PARAMS, value=raw)
    declarations: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for name, item in raw.items():
        _check_name(name, reserved)
        (declarations if isinstance(item, Mapping) else values)[name] = item
    return declarations, values


def parse_declarations(raw: Any, reserved: Iterable[str]) -> tuple[FieldInfo, ...]:
    """Every declaration of a `params_spec` table as a knob, in the order given."""
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table of declarations", key=PARAMS_SPEC, value=raw)
    reserved = tuple(reserved)
    return tuple(parse_declaration(name, table, reserved) for name, table in raw.items())


def parse_declaration(name: str, table: Any, reserved: Iterable[str]) -> FieldInfo:
    """One declaration (`{ type = "int", default = 4, low = 1, high = 16 }`) as a knob; ConfigError names
    the key `params.<name>`, the rule (prefixed with the declaration's entry at fault) and the value."""
    _check_name(name, reserved)
    key = f"{PARAMS}.{name}"
    if not isinstance(table, Mapping):
        raise ConfigError('must be a declaration like { type = "int", default = 4 }', key=key, value=table)
    for entry in table:
        if entry not in DECLARATION_KEYS:
            raise ConfigError(f"unknown entry {entry!r}" + suggest(str(entry), list(DECLARATION_KEYS)) +
                              f"; a declaration takes {', '.join(DECLARATION_KEYS)}", key=key, value=table[entry])
    type_name = table.get("type")
    if type_name not in TYPES:
        shown = "missing" if type_name is None else repr(type_name)
        raise ConfigError(f"type must be one of {', '.join(TYPES)}" + suggest(str(type_name), list(TYPES)) +
                          f" ({shown})", key=key, value=table.get("type", ""))
    kind = TYPES[type_name]
    if "default" not in table:
        raise ConfigError("needs a default (the value a trial takes unless set)", key=key, value=dict(table))
    help_text = table.get("help", "")
    if not isinstance(help_text, str):
        raise ConfigError("help must be a string", key=key, value=help_text)
    low, high = (_bound(table, kind, entry, key) for entry in ("low", "high"))
    if low is not None and high is not None and low > high:
        raise ConfigError(f"low must be <= high, got low={low}, high={high}", key=key)
    log = table.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError("log must be true or false", key=key, value=log)
    if log and kind != FLOAT:
        raise ConfigError("log applies to a float only", key=key, value=type_name)
    if log and (low is None or low <= 0):
        raise ConfigError("log needs low > 0", key=key, value=low if low is not None else "no low")
    choices = _choices(table, kind, key)
    knob = Knob(kind=CHOICE if choices else kind, help=help_text or f"your param {name}", low=low, high=high,
                choices=choices, log=log)
    info = FieldInfo(PARAMS, name, None, knob)
    try:
        default = coerce(info, table["default"])
    except ConfigError as exc:
        raise ConfigError(f"default {exc.rule}", key=key, value=table["default"]) from None
    return FieldInfo(PARAMS, name, default, knob)


def declaration(info: FieldInfo) -> dict[str, Any]:
    """The declaration table that `parse_declaration` reads back as `info`."""
    k = info.knob
    kind = STR if k.kind == CHOICE else k.kind
    out: dict[str, Any] = {"type": next(name for name, value in TYPES.items() if value == kind)}
    out["default"] = list(info.default) if isinstance(info.default, tuple) else info.default
    for entry, bound in (("low", k.low), ("high", k.high)):
        if bound is not None:
            out[entry] = int(bound) if kind in (INT, INT_LIST) else bound
    if k.log:
        out["log"] = True
    if k.choices:
        out["choices"] = list(k.choices)
    if k.help != f"your param {info.name}":
        out["help"] = k.help
    return out


def param_values(fields: tuple[FieldInfo, ...], given: Any) -> dict[str, Any]:
    """Every declared param's value: the one given (checked by its knob) or its default."""
    if not isinstance(given, Mapping):
        raise ConfigError("must be a table of name = value", key=PARAMS, value=given)
    by_name = {info.name: info for info in fields}
    for name in given:
        if name not in by_name:
            raise ConfigError(_unknown(name, by_name), key=f"{PARAMS}.{name}")
    return {name: coerce(info, given[name]) if name in given else info.default for name, info in by_name.items()}


def find_param(fields: Iterable[FieldInfo], key: str) -> FieldInfo:
    """The declared param a `params.<name>` key names; ConfigError with a hint otherwise."""
    by_name = {info.name: info for info in fields}
    name = key.partition(".")[2]
    if name not in by_name:
        raise ConfigError(_unknown(name, by_name), key=key)
    return by_name[name]


def _unknown(name: str, declared: Mapping[str, Any]) -> str:
    if not declared:
        return 'is not declared; declare it in the preset\'s [params] table, e.g. x = { type = "int", default = 1 }'
    return "is not declared" + suggest(name, list(declared)) + f"; declared: {', '.join(declared)}"


def _check_name(name: Any, reserved: Iterable[str]) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError("a param's name must be a Python identifier (letters, digits, _)",
                          key=f"{PARAMS}.{name}", value=name)
    if name in tuple(reserved):
        raise ConfigError("a param's name must not be that of a built-in group or key", key=f"{PARAMS}.{name}",
                          value=name)


def _bound(table: Mapping[str, Any], kind: str, entry: str, key: str) -> float | None:
    if entry not in table:
        return None
    value = table[entry]
    if kind not in _RANGED:
        raise ConfigError(f"{entry} applies to int, float and int_list params only", key=key, value=value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{entry} must be a number", key=key, value=value)
    if isinstance(value, int) and int_problem(value):
        raise ConfigError(f"{entry} {int_problem(value)}", key=key, value=value)
    if not math.isfinite(value):
        raise ConfigError(f"{entry} must be a number", key=key, value=value)
    if kind != FLOAT and not float(value).is_integer():
        raise ConfigError(f"{entry} must be an integer", key=key, value=value)
    return int(value) if kind != FLOAT else float(value)


def _choices(table: Mapping[str, Any], kind: str, key: str) -> tuple[str, ...]:
    if "choices" not in table:
        return ()
    choices = table["choices"]
    if kind != STR:
        raise ConfigError("choices apply to a str param only", key=key, value=choices)
    if not isinstance(choices, list) or not choices:
        raise ConfigError("choices must be a non-empty list of strings", key=key, value=choices)
    if not all(isinstance(c, str) and c for c in choices):
        raise ConfigError("choices must be non-empty strings", key=key, value=choices)
    if len(set(choices)) != len(choices):
        raise ConfigError("choices must not repeat", key=key, value=choices)
    return tuple(choices)


def set_param(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `params.<name>` in a stored config dict (values under `params`, declarations under
    `params_spec`); the name must be declared there."""
    name = key.partition(".")[2]
    spec = data.get(PARAMS_SPEC)
    declared = list(spec) if isinstance(spec, Mapping) else []
    if name not in declared:
        raise ConfigError(_unknown(name, dict.fromkeys(declared)), key=key)
    values = data.setdefault(PARAMS, {})
    if not isinstance(values, dict):
        raise ConfigError("must be a table of name = value", key=PARAMS, value=values)
    values[name] = value
