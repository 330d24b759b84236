"""Form text to config values and back, with no Textual in sight.

The knob form edits text (and booleans from switches); the engine wants typed values and a
validated Config. Keeping the translation here, pure, lets it be tested without a terminal and
keeps the form's rules identical to the engine's: every value goes through `schema.coerce` and
the whole config through `Config.from_dict`, so the form can never accept what the engine would
reject.
"""
from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Mapping

import tomli_w

from engine.config.groups import GROUPS, Config, iter_fields
from engine.errors import ConfigError
from engine.config.knobs import (
    BOOL, CHOICE, FLOAT, INT, INT_LIST, STR, STR_LIST, TABLE, FieldInfo, Knob, coerce,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

NAME_KEY = "name"
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class TopLevelField(FieldInfo):
    """A knob outside the six groups (only `name`): its key has no group prefix."""

    @property
    def key(self) -> str:
        return self.name


NAME_FIELD = TopLevelField(
    group="", name=NAME_KEY, default="",
    knob=Knob(kind=STR, help="A label for the trial in the table; presets name themselves"),
)


def form_fields() -> list[FieldInfo]:
    """Every field the form edits, in form order: `name`, then the groups' knobs."""
    return [NAME_FIELD, *iter_fields()]


def error_message(exc: ConfigError) -> str:
    """The error as shown under its field: rule and value, without the key the field already shows."""
    if exc.has_value:
        return str(ConfigError(exc.rule, value=exc.value))
    return exc.rule


def parse_value(info: FieldInfo, raw: str | bool) -> Any:
    """The knob's value from the editor's text (or a switch's bool), checked against its rules.

    Raises ConfigError with the key, the rule and the text given.
    """
    kind = info.knob.kind
    key = info.key
    if kind == BOOL:
        return coerce(info, _parse_bool(key, raw))
    if isinstance(raw, bool):
        raise ConfigError("must be text", key=key, value=raw)
    text = raw.strip()
    if kind == INT:
        return coerce(info, _parse_int(key, text, "must be an integer"))
    if kind == FLOAT:
        return coerce(info, _parse_float(key, text))
    if kind in (CHOICE, STR):
        return coerce(info, text)
    if kind == INT_LIST:
        items = _split_list(key, text)
        values = [_parse_int(key, item.strip(), f"item {i} must be an integer", value=raw)
                  if isinstance(item, str) else item for i, item in enumerate(items)]
        return coerce(info, values)
    if kind == STR_LIST:
        items = [item.strip() if isinstance(item, str) else item for item in _split_list(key, text)]
        return coerce(info, items)
    if kind == TABLE:
        return coerce(info, _parse_table(key, text))
    raise AssertionError(f"unknown knob kind {kind}")


def _parse_bool(key: str, raw: str | bool) -> bool:
    if isinstance(raw, bool):
        return raw
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigError("must be true or false", key=key, value=raw)


def _parse_int(key: str, text: str, rule: str, value: Any = None) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number) and number.is_integer() and abs(number) < 2**63:
        return int(number)  # "1e3" is a fine batch size
    raise ConfigError(rule, key=key, value=text if value is None else value)


def _parse_float(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError("must be a number", key=key, value=text) from None


def _split_list(key: str, text: str) -> list[Any]:
    """Items of `256, 128`, `[256, 128]` or a TOML array; '' and '[]' are the empty list."""
    if text.startswith("["):
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            if not text.endswith("]"):
                raise ConfigError("must be a list like 256, 128", key=key, value=text) from None
            text = text[1:-1].strip()
        else:
            if not isinstance(value, list):
                raise ConfigError("must be a list like 256, 128", key=key, value=text)
            return value
    if not text:
        return []
    return text.split(",")


def _parse_table(key: str, text: str) -> dict[str, Any]:
    if not text:
        return {}
    source = text if text.startswith("{") else "{" + text + "}"
    try:
        value = tomllib.loads(f"v = {source}")["v"]
    except tomllib.TOMLDecodeError as exc:
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(f"must be a TOML inline table like {{n = 5}} ({detail})", key=key,
                          value=text) from None
    if not isinstance(value, dict):
        raise ConfigError("must be a TOML inline table like {n = 5}", key=key, value=text)
    return value


def format_value(info: FieldInfo, value: Any) -> str | bool:
    """The editor's text for a value, such that `parse_value` gives the same value back."""
    kind = info.knob.kind
    if kind == BOOL:
        return bool(value)
    if kind == FLOAT:
        return repr(float(value))
    if kind == INT:
        return str(value)
    if kind == INT_LIST:
        return ", ".join(str(v) for v in value)
    if kind == STR_LIST:
        items = list(value)
        if all(item == item.strip() and item and not any(c in item for c in ",[]\"'") for item in items):
            return ", ".join(items)
        return _toml_value(items)
    if kind == TABLE:
        return _toml_value(dict(value)) if value else ""
    return str(value)


def _toml_value(value: Any) -> str:
    """TOML text for a value, tables inline (tomli_w would write `[v]` sections)."""
    if isinstance(value, Mapping):
        pairs = [f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()]
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).strip()[len("v = "):]


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_value(key)


def raw_values(config: Config) -> dict[str, str | bool]:
    """Every field's editor content for a config, keyed like the form (`name`, `optim.lr`, ...)."""
    raw: dict[str, str | bool] = {NAME_KEY: config.name}
    for info in iter_fields():
        raw[info.key] = format_value(info, config.get(info.key))
    return raw


@dataclass(frozen=True)
class FormState:
    """What the form's current text amounts to.

    `config` is None while anything is wrong; `errors` maps a field key (or, rarely, a group, or
    '' for an error without a key) to the message to show; `applies` says which fields are in use
    for the values given, so the form can hide the rest.
    """

    config: Config | None
    errors: dict[str, str]
    applies: dict[str, bool]

    @property
    def is_valid(self) -> bool:
        return self.config is not None


def evaluate(raw: Mapping[str, str | bool], base: Config | None = None) -> FormState:
    """Parse every field, decide which apply, then validate the whole config as the engine would.

    A field that does not apply and cannot be parsed takes its value from `base` (the config last
    loaded into the form) instead of blocking: it is hidden, so its error could not be seen.
    A field missing from `raw` also takes its value from `base`.
    """
    base = base or Config()
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for info in form_fields():
        if info.key not in raw:
            continue
        try:
            parsed[info.key] = parse_value(info, raw[info.key])
        except ConfigError as exc:
            errors[info.key] = error_message(exc)
    probe = _unchecked_config(base, parsed)
    applies = {info.key: probe.applies(info.key) for info in iter_fields()}
    applies[NAME_KEY] = True
    errors = {key: message for key, message in errors.items() if applies.get(key, True)}
    if errors:
        return FormState(None, errors, applies)
    data = base.to_dict()
    data[NAME_KEY] = parsed.get(NAME_KEY, base.name)
    for key, value in parsed.items():
        if key != NAME_KEY:
            group, _, name = key.partition(".")
            data.setdefault(group, {})[name] = value
    try:
        config = Config.from_dict(data)
    except ConfigError as exc:
        return FormState(None, {exc.key or "": error_message(exc)}, applies)
    return FormState(config, {}, applies)


def _unchecked_config(base: Config, parsed: Mapping[str, Any]) -> Config:
    """A Config from values each already checked, skipping the cross-field rules.

    Only used to ask which knobs apply while the form may still be inconsistent.
    """
    groups: dict[str, Any] = {}
    for group in GROUPS:
        updates = {key.partition(".")[2]: value for key, value in parsed.items()
                   if key.partition(".")[0] == group and "." in key}
        groups[group] = dataclasses.replace(getattr(base, group), **updates)
    return Config(name=parsed.get(NAME_KEY, base.name), **groups)
