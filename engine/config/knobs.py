"""Knob metadata: what each config field is, what it accepts, and how to check a value.

Every field of the config dataclasses carries a `Knob` in its metadata. The TUI builds its form
from these, the CLI validates `--set` overrides with them, and presets are checked against them,
so the rules live in exactly one place.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.config.limits import MAX_ITEMS, MAX_TEXT, check_value, int_problem
from engine.errors import ConfigError

# Value kinds a knob can hold.
INT = "int"
FLOAT = "float"
BOOL = "bool"
STR = "str"
CHOICE = "choice"
INT_LIST = "int_list"
STR_LIST = "str_list"
TABLE = "table"


@dataclass(frozen=True)
class Knob:
    """The rules and help for one config field."""

    kind: str
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: value must be strictly greater than `low`
    choices: tuple[str, ...] = ()
    open_choice: bool = False  # choices are suggestions; other values pass `validator`
    validator: Callable[[Any], str | None] | None = None
    applies: Callable[[Any], bool] | None = None  # given the whole Config: is it in use?
    min_items: int = 0
    log: bool = False  # a sweep's range over it is on a log scale unless it says otherwise

    def rule_text(self) -> str:
        """A short human description of what the knob accepts, for help screens."""
        if self.kind == CHOICE:
            return "one of " + ", ".join(self.choices) + (" or package.module:function" if self.open_choice else "")
        parts = []
        if self.low is not None:
            parts.append(f"> {_num(self.low)}" if self.low_open else f">= {_num(self.low)}")
        if self.high is not None:
            parts.append(f"<= {_num(self.high)}")
        return self.kind + (" " + " and ".join(parts) if parts else "")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def knob(default: Any, help: str, kind: str, **rules: Any) -> Any:
    """A dataclass field with a default and its Knob metadata."""
    meta = {"knob": Knob(kind=kind, help=help, **rules)}
    if kind == TABLE:
        return dataclasses.field(default_factory=dict, metadata=meta, hash=False)
    return dataclasses.field(default=default, metadata=meta)


def knob_of(field: dataclasses.Field) -> Knob:
    return field.metadata["knob"]


@dataclass(frozen=True)
class FieldInfo:
    """One knob as the UI and CLI see it: its dotted key, default and rules."""

    group: str
    name: str
    default: Any
    knob: Knob

    @property
    def key(self) -> str:
        return f"{self.group}.{self.name}"


def iter_group_fields(group: str, cls: type) -> Iterator[FieldInfo]:
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
        yield FieldInfo(group, f.name, default, knob_of(f))


def coerce(info: FieldInfo, value: Any) -> Any:
    """Check `value` against the knob's rules and return it in canonical form.

    Raises ConfigError naming the key, the rule and the value. Lists become tuples so that a
    config stays hashable and frozen.
    """
    k = info.knob
    key = info.key
    if k.kind == BOOL:
        if not isinstance(value, bool):
            raise ConfigError("must be true or false", key=key, value=value)
        return value
    if k.kind == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError("must be an integer", key=key, value=value)
        _check_int(key, value)
        _check_range(k, key, value)
        return value
    if k.kind == FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError("must be a number", key=key, value=value)
        try:
            value = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise ConfigError("must be a finite number", key=key, value=value) from None
        if not math.isfinite(value):
            raise ConfigError("must be a finite number", key=key, value=value)
        _check_range(k, key, value)
        return value
    if k.kind in (STR, CHOICE):
        if not isinstance(value, str):
            raise ConfigError("must be a string", key=key, value=value)
        _check_length(key, value)
        if k.kind == CHOICE:
            if value in k.choices:
                return value
            problem = k.validator(value) if (k.open_choice and k.validator) else "not a choice"
            if problem:
                hint = _suggest(value, k.choices)
                rule = f"must be one of {', '.join(k.choices)}"
                if k.open_choice:
                    rule += " or a plugin 'package.module:function'"
                raise ConfigError(rule + hint, key=key, value=value)
        elif k.validator:
            problem = k.validator(value)
            if problem:
                raise ConfigError(problem, key=key, value=value)
        return value
    if k.kind in (INT_LIST, STR_LIST):
        if not isinstance(value, (list, tuple)):
            raise ConfigError("must be a list", key=key, value=value)
        if len(value) > MAX_ITEMS:
            raise ConfigError(f"must have at most {MAX_ITEMS:,} items", key=key, value=list(value))
        items = []
        for i, item in enumerate(value):
            if k.kind == INT_LIST:
                if isinstance(item, bool) or not isinstance(item, int):
                    raise ConfigError(f"item {i} must be an integer", key=key, value=list(value))
                _check_int(key, item, what=f"item {i}")
                _check_range(k, key, item, what=f"item {i}")
            elif not isinstance(item, str) or not item:
                raise ConfigError(f"item {i} must be a non-empty string", key=key, value=list(value))
            else:
                _check_length(key, item, what=f"item {i}")
            items.append(item)
        if len(items) < k.min_items:
            raise ConfigError(f"must have at least {k.min_items} item(s)", key=key, value=list(value))
        return tuple(items)
    if k.kind == TABLE:
        if not isinstance(value, dict):
            raise ConfigError("must be a table", key=key, value=value)
        check_value(value, key)  # a plugin's options are free-form, but not unbounded
        return dict(value)
    raise AssertionError(f"unknown knob kind {k.kind}")


def _check_int(key: str, value: int, what: str = "") -> None:
    problem = int_problem(value)
    if problem:
        raise ConfigError(f"{what} {problem}" if what else problem, key=key, value=value)


def _check_length(key: str, value: str, what: str = "") -> None:
    if len(value) > MAX_TEXT:
        rule = f"must be at most {MAX_TEXT:,} characters long"
        raise ConfigError(f"{what} {rule}" if what else rule, key=key, value=value)


def _check_range(k: Knob, key: str, value: float, what: str = "") -> None:
    prefix = f"{what} " if what else ""
    if k.low is not None:
        if k.low_open and not value > k.low:
            raise ConfigError(f"{prefix}must be > {_num(k.low)}", key=key, value=value)
        if not k.low_open and not value >= k.low:
            raise ConfigError(f"{prefix}must be >= {_num(k.low)}", key=key, value=value)
    if k.high is not None and not value <= k.high:
        raise ConfigError(f"{prefix}must be <= {_num(k.high)}", key=key, value=value)


def _suggest(given: str, options: tuple[str, ...] | list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(given, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def suggest(given: str, options: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest option, or ''."""
    return _suggest(given, options)
