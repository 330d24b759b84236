"""The `[search]` table of a preset: what a sweep varies, how it samples, and how it judges trials.

    [search]
    strategy = "tpe"          # grid | random | tpe
    trials = 32               # not needed for grid: it visits every point once
    parallel = 2              # trials at once, each in its own process
    pruner = "median"         # none | median | successive_halving
    seed = 0
    metric = "val_loss"       # val_loss | val_acc | train_loss; direction follows unless given
    "optim.lr" = { low = 1e-4, high = 1e-1, log = true }
    "model.hidden" = [[128], [256, 128]]
    "params.num_heads" = [2, 4, 8]   # a param the preset declares in [params]

A key with a dot is a config knob: a list is a set of choices, a table a range (`step` for a grid
or an integer stride). Every rule is checked, against the knob's own rules too, before anything
runs; errors name the key as `search.<knob>`.
"""
from __future__ import annotations

import json
import math
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Union

from engine.config.groups import GROUPS, Config, field_info
from engine.config.knobs import FLOAT, INT, TABLE, FieldInfo, coerce, suggest
from engine.config.limits import int_problem
from engine.config.params import PARAMS
from engine.errors import ConfigError
from engine.execution.placement import POLICIES, ROUND_ROBIN

STRATEGIES = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "successive_halving")
METRICS = {"val_loss": "minimize", "val_acc": "maximize", "train_loss": "minimize"}
DIRECTIONS = ("minimize", "maximize")
DEFAULT_TRIALS = 20
MAX_PARALLEL = 64
MAX_GRID = 100_000  # points of a grid, counted from the spec before one is built
MAX_TRIALS = 100_000
MAX_KNOBS = 64  # knobs one search varies
MAX_CHOICES = 1_000  # values one knob's list of choices holds (each is checked by building a config)
RANGE_KEYS = ("low", "high", "log", "step")
SETTINGS = ("name", "strategy", "trials", "parallel", "pruner", "seed", "metric", "direction", "placement",
            "startup_trials", "warmup_epochs")


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


@dataclass(frozen=True)
class SearchSpec:
    params: tuple[Param, ...]
    strategy: str = "tpe"
    trials: int | None = None
    parallel: int = 1
    pruner: str = "none"
    seed: int | None = None
    metric: str = "val_loss"
    direction: str = "minimize"
    name: str = ""
    placement: str = ROUND_ROBIN
    startup_trials: int = 3
    warmup_epochs: int = 1

    @property
    def grid_size(self) -> int:
        """Points of the full grid, from each knob's count (nothing is built)."""
        size = 1
        for p in self.params:
            size *= len(p.values) if isinstance(p, Choice) else p.grid_count
        return size

    @property
    def planned(self) -> int:
        """How many trials the sweep runs at most."""
        if self.strategy == "grid":
            return min(self.trials, self.grid_size) if self.trials else self.grid_size
        return self.trials or DEFAULT_TRIALS

    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def param(self, key: str) -> Param:
        for p in self.params:
            if p.key == key:
                return p
        raise KeyError(f"{key} is not varied by this search (it varies {', '.join(self.keys())})")

    def with_seed(self) -> SearchSpec:
        """The spec with a seed drawn now if it had none, so that the stored sweep can be repeated."""
        return self if self.seed is not None else replace(self, seed=secrets.randbelow(2**31))

    def to_dict(self) -> dict[str, Any]:
        """The `[search]` table that reads back as this spec."""
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        out.update(strategy=self.strategy)
        if self.trials is not None:
            out["trials"] = self.trials
        out.update(parallel=self.parallel, pruner=self.pruner)
        if self.seed is not None:
            out["seed"] = self.seed
        out.update(metric=self.metric, direction=self.direction, placement=self.placement)
        if self.pruner != "none":
            out.update(startup_trials=self.startup_trials, warmup_epochs=self.warmup_epochs)
        for p in self.params:
            out[p.key] = p.to_toml_value()
        return out


def label(value: Any) -> str:
    """How a choice is shown and how Optuna names it: numbers and strings as written, lists as JSON."""
    if isinstance(value, (tuple, list)):
        return json.dumps(list(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_search(raw: Mapping[str, Any], base: Config, *, overrides: Mapping[str, Any] | None = None) -> SearchSpec:
    """Validate a `[search]` table against the config it varies; ConfigError names `search.<key>`."""
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table [search]", key="search", value=raw)
    data = flatten_search(raw)
    data.update(overrides or {})
    settings = {k: v for k, v in data.items() if "." not in k}
    space = {k: v for k, v in data.items() if "." in k}
    for key in settings:
        if key not in SETTINGS:
            raise ConfigError("unknown setting" + suggest(key, list(SETTINGS)) +
                              "; knobs to vary are dotted config keys such as \"optim.lr\"", key=f"search.{key}")
    kwargs = _settings(settings)
    if not space:
        raise ConfigError("names no knob to vary; add e.g. \"optim.lr\" = { low = 1e-4, high = 1e-1, log = true }",
                          key="search")
    if len(space) > MAX_KNOBS:
        raise ConfigError(f"varies more than {MAX_KNOBS} knobs", key="search", value=len(space))
    params = tuple(_param(key, value, base) for key, value in space.items())
    spec = SearchSpec(params=params, **kwargs)
    _check_strategy(spec)
    return spec


def flatten_search(data: Mapping[str, Any]) -> dict[str, Any]:
    """`optim.lr = {...}` unquoted in TOML arrives as {"optim": {"lr": {...}}}: take it as "optim.lr"."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if (key in GROUPS or key == PARAMS) and isinstance(value, dict):
            for name, inner in value.items():
                if key == "task" and name == "options" and isinstance(inner, dict) and not _is_range(inner):
                    out.update({f"task.options.{k}": v for k, v in inner.items()})
                else:
                    out[f"{key}.{name}"] = inner
        else:
            out[key] = value
    return out


def _is_range(value: dict) -> bool:
    return "low" in value or "high" in value


def _int_setting(settings: Mapping[str, Any], key: str, low: int, high: int | None = None) -> int | None:
    if key not in settings:
        return None
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("must be an integer", key=f"search.{key}", value=value)
    if value < low or (high is not None and value > high):
        rule = f"must be >= {low}" + (f" and <= {high}" if high is not None else "")
        raise ConfigError(rule, key=f"search.{key}", value=value)
    return value


def _choice_setting(settings: Mapping[str, Any], key: str, options: tuple[str, ...] | list[str]) -> str | None:
    if key not in settings:
        return None
    value = settings[key]
    if value not in options:
        raise ConfigError(f"must be one of {', '.join(options)}" + suggest(str(value), list(options)),
                          key=f"search.{key}", value=value)
    return value


def _settings(s: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in s:
        if not isinstance(s["name"], str):
            raise ConfigError("must be a string", key="search.name", value=s["name"])
        out["name"] = s["name"]
    for key, options in (("strategy", STRATEGIES), ("pruner", PRUNERS), ("metric", list(METRICS)),
                         ("direction", DIRECTIONS), ("placement", POLICIES)):
        choice = _choice_setting(s, key, options)
        if choice is not None:
            out[key] = choice
    for key, low, high in (("trials", 1, MAX_TRIALS), ("parallel", 1, MAX_PARALLEL), ("seed", 0, 2**32 - 1),
                           ("startup_trials", 0, MAX_TRIALS), ("warmup_epochs", 0, 1_000_000)):
        value = _int_setting(s, key, low, high)
        if value is not None:
            out[key] = value
    out.setdefault("direction", METRICS[out.get("metric", "val_loss")])
    return out


def _param(key: str, value: Any, base: Config) -> Param:
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


def _check_strategy(spec: SearchSpec) -> None:
    if spec.strategy == "grid":
        for p in spec.params:
            if isinstance(p, Range) and not p.grid_count:
                raise ConfigError("grid search needs a list of values or a range with a step, "
                                  f"e.g. {{ low = {p.low}, high = {p.high}, step = .. }}",
                                  key=f"search.{p.key}")
        if spec.grid_size > MAX_GRID:
            raise ConfigError(f"the grid has {spec.grid_size} points, more than {MAX_GRID}; use random or tpe",
                              key="search.strategy", value="grid")
        if spec.trials is not None and spec.trials > spec.grid_size:
            raise ConfigError(f"the grid has {spec.grid_size} point(s); trials must be at most that, or left out",
                              key="search.trials", value=spec.trials)
