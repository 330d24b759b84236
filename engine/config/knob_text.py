"""One text grammar per knob kind: what a user may type for a value, and how a value is written.

The form's fields and the CLI's `--set group.key=value` both read a knob's value from text. They
share this grammar so that what one accepts the other accepts too (`model.hidden=256,128` as
well as `[256, 128]`), and `format_text` writes text that `parse_text` reads back as the same
value, so a value can go to a field and come back unchanged.

Per kind:
  int        `256`, `1e3` (a whole number), `0x100` (any TOML integer)
  float      `3e-4`, `0.01`, `2`, `inf` (the range check refuses it later)
  bool       true/false, yes/no, on/off, 1/0 (any case)
  str/choice the text, trimmed; a quoted TOML string (`"a b "`) is read without its quotes
  int_list   `256, 128`, `[256, 128]`, `64`; empty text is the empty list
  str_list   `a, b`, or a TOML array `["x,y", "z"]` for items holding commas or quotes
  table      `{n = 5}` or `n = 5, kind = "x"` (a TOML inline table, braces optional)

`parse_text` checks only the shape; `read_text` also checks the knob's rules (`coerce`).
"""
from __future__ import annotations

import math
from typing import Any

from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, INT_LIST, STR, STR_LIST, TABLE, FieldInfo, coerce
from engine.config.toml_io import inline_toml, read_literal
from engine.errors import ConfigError

__all__ = ["KINDS", "parse_text", "format_text", "read_text"]

KINDS = (INT, FLOAT, BOOL, STR, CHOICE, INT_LIST, STR_LIST, TABLE)
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
_LIST_RULE = "must be a list like 256, 128"
_TABLE_RULE = "must be a TOML inline table like {n = 5}"


def read_text(info: FieldInfo, text: str) -> Any:
    """The knob's value from text, checked against its rules; ConfigError names key, rule and text."""
    return coerce(info, parse_text(info.knob.kind, text, info.key))


def parse_text(kind: str, text: str, key: str) -> Any:
    """The value `text` spells for a knob of `kind`, its range and choices not yet checked.

    Lists come back as lists. Raises ConfigError naming `key`, the rule and the text when the
    text has not the kind's shape at all (`fast` for a float).
    """
    text = text.strip()
    if kind == BOOL:
        return _parse_bool(key, text)
    if kind == INT:
        return _parse_int(key, text, "must be an integer", text)
    if kind == FLOAT:
        return _parse_float(key, text)
    if kind in (STR, CHOICE):
        return _parse_str(text)
    if kind in (INT_LIST, STR_LIST):
        array = _toml_array(key, text)
        if array is not None:
            return array
        items = [item.strip() for item in _split_items(text)]
        if kind == STR_LIST:
            return items
        return [_parse_int(key, item, f"item {i} must be an integer", text) for i, item in enumerate(items)]
    if kind == TABLE:
        return _parse_table(key, text)
    raise AssertionError(f"unknown knob kind {kind}")


def format_text(kind: str, value: Any) -> str:
    """The text for a value of `kind` such that `parse_text` gives the same value back."""
    if kind == BOOL:
        return "true" if value else "false"
    if kind == FLOAT:
        return repr(float(value))
    if kind == INT:
        return str(value)
    if kind in (STR, CHOICE):
        text = str(value)
        return text if _reads_back(kind, text, text) else inline_toml(text)
    if kind == INT_LIST:
        return ", ".join(str(v) for v in value)
    if kind == STR_LIST:
        items = list(value)
        plain = ", ".join(items)
        return plain if not items or _reads_back(STR_LIST, plain, items) else inline_toml(items)
    if kind == TABLE:
        return inline_toml(dict(value)) if value else ""
    raise AssertionError(f"unknown knob kind {kind}")


def _reads_back(kind: str, text: str, value: Any) -> bool:
    try:
        return parse_text(kind, text, "") == value
    except ConfigError:
        return False


def _parse_bool(key: str, text: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError("must be true or false", key=key, value=text)


def _parse_int(key: str, text: str, rule: str, shown: str) -> int:
    """An integer from decimal text, a whole number in float notation (`1e3`) or a TOML integer (`0x40`)."""
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
    literal = _literal(text)
    if isinstance(literal, int) and not isinstance(literal, bool):
        return literal
    raise ConfigError(rule, key=key, value=shown)


def _parse_float(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    literal = _literal(text)
    if isinstance(literal, (int, float)) and not isinstance(literal, bool):
        return float(literal)  # a TOML integer such as 0x10; read_literal keeps it within 64 bits
    raise ConfigError("must be a number", key=key, value=text)


def _parse_str(text: str) -> str:
    """The text itself, or the string inside it when the whole text is one quoted TOML string."""
    literal = _literal(text)
    return literal if isinstance(literal, str) else text


def _literal(text: str) -> Any:
    """The TOML value of `text`, or None when it is not one (None is no TOML value)."""
    try:
        return read_literal(text)
    except ValueError:
        return None


def _toml_array(key: str, text: str) -> list[Any] | None:
    """The items of a TOML array (`[256, 128]`, `["x,y", "z"]`), as TOML typed them; None for other text.

    `[64, "a"]` holds a string, which the int-list rule then refuses naming the list; `[a, b]` is
    no TOML array and is read as the items `a, b`.
    """
    if not text.startswith("["):
        return None
    try:
        value = read_literal(text)
    except ValueError:
        if not text.endswith("]"):
            raise ConfigError(_LIST_RULE, key=key, value=text) from None
        return None
    if not isinstance(value, list):
        raise ConfigError(_LIST_RULE, key=key, value=text)
    return value


def _split_items(text: str) -> list[str]:
    """The comma-separated items of `256, 128` or `[256, 128]`; '' and '[]' are no items."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    return text.split(",") if text else []


def _parse_table(key: str, text: str) -> dict[str, Any]:
    if not text:
        return {}
    source = text if text.startswith("{") else "{" + text + "}"
    try:
        value = read_literal(source)
    except ValueError as exc:
        raise ConfigError(f"{_TABLE_RULE} ({exc})", key=key, value=text) from None
    if not isinstance(value, dict):
        raise ConfigError(_TABLE_RULE, key=key, value=text)
    return value
