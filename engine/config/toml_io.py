"""The one place that reads and writes TOML text.

Presets, `--set` values, the form's text and the Sweep dialog all speak TOML. Keeping the
reader shim, the syntax-error wording and the one-line value writer here means a value written
anywhere reads back the same everywhere, and an error looks the same wherever it is found.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any

import tomli_w

from engine.config.limits import MAX_TEXT, BoundError, check_toml_text, check_value
from engine.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["tomllib", "read_toml_text", "read_literal", "inline_toml", "toml_key", "table_toml"]

_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def read_toml_text(text: str, source: str) -> dict[str, Any]:
    """A TOML document as a dict; a syntax error is a ConfigError naming `source` and the line.

    TOML parsers put the position inside their message; a user wants it where every other error
    puts it (`file:line:`), so it is moved there. Text past the bounds of `engine.config.limits`
    is refused before the parser sees it, and data past them after.
    """
    check_toml_text(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _POSITION.search(message)
        line = int(match.group(1)) if match else None
        raise ConfigError(f"TOML syntax error: {_POSITION.sub('', message)}", file=source, line=line) from None
    except RecursionError:  # a backstop: check_toml_text refuses such nesting first
        raise BoundError("nested too deeply for the TOML parser", file=source) from None
    except ValueError as exc:  # a backstop: int() refusing thousands of digits
        raise ConfigError(f"cannot be read as TOML: {exc}", file=source) from None
    try:
        check_value(data)
    except ConfigError as exc:
        raise exc.located(source) from None
    return data


def read_literal(text: str) -> Any:
    """The one TOML value `text` spells (`3e-4`, `[1, 2]`, `"a"`, `{ n = 5 }`).

    Raises ValueError, with the parser's rule and no position, when the text is not exactly one
    TOML value (`1\\nw = 2` smuggles in a second key and is refused), or is past a bound of
    `engine.config.limits` (longer than MAX_TEXT, nested too deep, an integer outside 64 bits).
    """
    if len(text) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT:,} characters")
    try:
        check_toml_text(text)
        data = tomllib.loads(f"v = {text}")
    except ConfigError as exc:
        raise ValueError(exc.rule) from None
    except RecursionError:  # `[[[[...` deeper than the parser's recursion
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # TOMLDecodeError, or int() refusing thousands of digits
        raise ValueError(_POSITION.sub("", str(exc))) from None
    if set(data) != {"v"}:
        raise ValueError("more than one value")
    try:
        check_value(data["v"])
    except ConfigError as exc:
        raise ValueError(exc.rule) from None
    return data["v"]


def inline_toml(value: Any) -> str:
    """One TOML value on one line: lists as `[a, b]`, tables as `{ k = v }`.

    tomli-w would spread lists and tables over several lines and sections, which does not fit a
    form field, a `--set` value or the one-knob-per-line layout of a preset's `[search]` table.
    """
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(str(k))} = {inline_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inline_toml(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).strip()[len("v = "):]


def toml_key(key: str) -> str:
    """A key as TOML writes it: bare when it can be (`lr`), else quoted (`"optim.lr"`, `"odd key"`)."""
    return key if _BARE_KEY.fullmatch(key) else inline_toml(key)


def table_toml(name: str, table: Mapping[str, Any]) -> str:
    """`[name]` and one `key = value` line per entry, values inline.

    Plain keys come first, then dotted ones (quoted): a `[search]` table reads as its settings,
    then the knobs it varies, one per line.
    """
    plain = [k for k in table if "." not in k]
    dotted = [k for k in table if "." in k]
    return f"[{name}]\n" + "".join(f"{toml_key(k)} = {inline_toml(table[k])}\n" for k in plain + dotted)
