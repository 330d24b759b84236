"""What a sweep varies: one knob's choices or range, checked against the knob's own rules.

A list in `[search]` is a set of choices, a table a range (`step` for a grid or an integer stride);
every value is checked by building a config with it, so a search never samples what a trial would refuse.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Union

from engine.config.groups import Config, field_info
from engine.config.knobs import FLOAT, INT, TABLE, FieldInfo, coerce, suggest
from engine.config.limits import int_problem
from engine.errors import ConfigError

MAX_GRID = 100_000  # points of a grid, counted from the spec before one is built
MAX_CHOICES = 1_000  # values one knob's list of choices holds (each is checked by building a config)
RANGE_KEYS = ("low", "high", "log", "step")

@dataclass(frozen=True)
class Choice:
    """A categorical knob: its values as the config holds them, and a label for each."""

    key: str
    values: tuple[Any, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label(v) for v in self.values)

    @property
    def scalar(self) -> bool:
        return all(isinstance(v, (bool, int, float, str)) for v in self.values)

    def to_toml_value(self) -> list[Any]:
        return [list(v) if isinstance(v, tuple) else v for v in self.values]


@dataclass(frozen=True)
class Range:
    """A numeric knob between low and high (inclusive), on a log scale or in steps."""

    key: str
    low: float
    high: float
    integer: bool
    log: bool = False
    step: float | None = None

    @property
    def grid_count(self) -> int:
        """How many grid points the range has (0: none, a float range without a step), computed
        from its bounds so that a range of billions is judged before anything is built."""
        step = self.step if self.step is not None else (1 if self.integer else None)
        if step is None:
            return 0
        if self.integer:
            return int(self.high - self.low) // int(step) + 1
        return int(math.floor((self.high - self.low) / step + 1e-9)) + 1

    def grid_values(self) -> list[float]:
        n = self.grid_count
        if n > MAX_GRID:
            raise ValueError(f"{self.key}: {n} grid points, more than {MAX_GRID}")  # parse_search refuses it first
        step = self.step if self.step is not None else 1
        values = [self.low + i * step for i in range(n)]
        return [int(round(v)) for v in values] if self.integer else [round(v, 12) for v in values]

    def to_toml_value(self) -> dict[str, Any]:
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


Param = Union[Choice, Range]

def label(value: Any) -> str:
    """How a choice is shown and how Optuna names it: numbers and strings as written, lists as JSON."""
    if isinstance(value, (tuple, list)):
        return json.dumps(list(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_param(key: str, value: Any, base: Config) -> Param:
    where = f"search.{key}"
    info = _knob(key, where, base)
    if isinstance(value, list):
        return _choice(key, value, info, base, where)
    if isinstance(value, dict):
        return _range(key, value, info, base, where)
    raise ConfigError("must be a list of choices, e.g. [32, 64], or a range table { low = .., high = .. }",
                      key=where, value=value)


def _knob(key: str, where: str, base: Config) -> FieldInfo | None:
    """The knob's rules (a `params.<name>` key: the base's declaration); None for a `task.options.<name>`
    entry, which the task checks itself."""
    parent = key.rsplit(".", 1)[0]
    if key.count(".") >= 2:
        try:
            if field_info(parent).knob.kind == TABLE:
                return None
        except ConfigError:
            pass
    try:
        return base.field_info(key)
    except ConfigError as exc:
        raise ConfigError(exc.rule, key=where) from None


def _check_value(key: str, value: Any, info: FieldInfo | None, base: Config, where: str) -> Any:
    """The value in canonical form, checked by the knob and by building a config with it."""
    try:
        canonical = coerce(info, value) if info is not None else value
        base.with_updates({key: canonical})
    except ConfigError as exc:
        rule = exc.rule if exc.key in (None, key) else f"{exc.key}: {exc.rule}"
        raise ConfigError(rule, key=where, value=value) from None
    return canonical


def _choice(key: str, values: list, info: FieldInfo | None, base: Config, where: str) -> Choice:
    if not values:
        raise ConfigError("must list at least one choice", key=where, value=values)
    if len(values) > MAX_CHOICES:
        raise ConfigError(f"lists more than {MAX_CHOICES:,} choices", key=where, value=values)
    canonical = tuple(_check_value(key, v, info, base, where) for v in values)
    counts = Counter(label(v) for v in canonical)
    repeated = sorted(x for x, n in counts.items() if n > 1)
    if repeated:
        raise ConfigError(f"lists {repeated[0]} more than once", key=where, value=values)
    return Choice(key, canonical)


def _range(key: str, table: dict, info: FieldInfo | None, base: Config, where: str) -> Range:
    if info is None or info.knob.kind not in (INT, FLOAT):
        kind = "a task option" if info is None else f"a knob of kind {info.knob.kind}"
        raise ConfigError(f"a range needs a numeric knob; {key} is {kind}: list its choices instead",
                          key=where, value=table)
    for k in table:
        if k not in RANGE_KEYS:
            raise ConfigError("unknown range key" + suggest(k, list(RANGE_KEYS)) + f"; use {', '.join(RANGE_KEYS)}",
                              key=f"{where}.{k}", value=table[k])
    missing = [k for k in ("low", "high") if k not in table]
    if missing:
        raise ConfigError(f"a range needs both low and high (missing {' and '.join(missing)})", key=where, value=table)
    integer = info.knob.kind == INT
    low, high = (_bound(table[k], integer, f"{where}.{k}") for k in ("low", "high"))
    if low > high:
        raise ConfigError(f"`low <= high` must hold, got low={low}, high={high}", key=where)
    log = table.get("log", info.knob.log and "step" not in table)  # a param declared with log = true
    if not isinstance(log, bool):
        raise ConfigError("must be true or false", key=f"{where}.log", value=log)
    if log and low <= 0:
        raise ConfigError(f"a log range must stay above 0, got low={low}", key=where)
    step = table.get("step")
    if step is not None:
        step = _bound(step, integer, f"{where}.step")
        if step <= 0:
            raise ConfigError("must be > 0", key=f"{where}.step", value=step)
        if (high - low) / step > MAX_GRID:
            raise ConfigError(f"gives more than {MAX_GRID} values between low and high", key=f"{where}.step",
                              value=step)
        if log:
            raise ConfigError("a range takes either log = true or a step, not both", key=where)
    for bound in (low, high):
        _check_value(key, bound, info, base, where)
    return Range(key, low, high, integer, log, step)


def _bound(value: Any, integer: bool, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError("must be a number", key=where, value=value)
    if isinstance(value, int) and int_problem(value):
        raise ConfigError(int_problem(value) or "", key=where, value=value)
    if not math.isfinite(value):
        raise ConfigError("must be a finite number", key=where, value=value)
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError("must be an integer (the knob is an integer)", key=where, value=value)
        return int(value)
    return float(value)
