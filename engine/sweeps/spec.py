"""The `[search]` table of a preset: what a sweep varies, how it samples, and how it judges trials.

    [search]
    strategy = "tpe"          # grid | random | tpe | gp | cmaes | qmc
    trials = 32               # not needed for grid: it visits every point once
    parallel = 2              # trials at once, each in its own process
    executor = "process"      # process | thread | ray (actors on a Ray cluster: docs/cluster.md)
    pruner = "median"         # none | median | successive_halving | hyperband | wilcoxon
    seed = 0
    metric = "val_loss"       # val_loss | val_acc | train_loss; direction follows unless given
    "optim.lr" = { low = 1e-4, high = 1e-1, log = true }
    "model.hidden" = [[128], [256, 128]]
    "params.num_heads" = [2, 4, 8]   # a param the preset declares in [params]

A key with a dot is a config knob (engine.sweeps.space); the others are settings
(engine.sweeps.settings). Every rule is checked, against the knob's own rules too, before anything
runs; errors name the key as `search.<knob>`.
"""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.config.groups import GROUPS, Config
from engine.config.knobs import suggest
from engine.config.params import PARAMS
from engine.errors import ConfigError
from engine.execution.placement import ROUND_ROBIN
from engine.sweeps.settings import (
    DEFAULT_TRIALS,
    DIRECTIONS,
    IMPORTANCE,
    MAX_PARALLEL,
    MAX_TRIALS,
    METRICS,
    OBJECTIVES,
    PRUNERS,
    SETTINGS,
    STRATEGIES,
    parse_settings,
)
from engine.sweeps.space import MAX_CHOICES, MAX_GRID, RANGE_KEYS, Choice, Param, Range, label, parse_param

__all__ = ["DEFAULT_TRIALS", "DIRECTIONS", "IMPORTANCE", "MAX_CHOICES", "MAX_GRID", "MAX_KNOBS", "MAX_PARALLEL",
           "MAX_TRIALS", "METRICS", "OBJECTIVES", "PRUNERS", "RANGE_KEYS", "SETTINGS", "STRATEGIES", "Choice",
           "Param", "Range", "SearchSpec", "flatten_search", "label", "parse_search"]

MAX_KNOBS = 64  # knobs one search varies
MULTI_STRATEGIES = ("grid", "random", "tpe", "gp", "qmc")  # the samplers that weigh several objectives


@dataclass(frozen=True)
class SearchSpec:
    params: tuple[Param, ...]
    strategy: str = "tpe"
    trials: int | None = None
    parallel: int = 1
    pruner: str = "none"
    seed: int | None = None
    metric: str = "val_loss"  # the first objective
    direction: str = "minimize"
    name: str = ""
    placement: str = ROUND_ROBIN
    executor: str = "process"  # process | thread | ray: where the CLI's sweep trains (--executor overrides)
    startup_trials: int = 3  # the pruner's: trials that complete before it judges any
    warmup_epochs: int = 1
    pruner_patience: int = 0  # > 0: Optuna's PatientPruner around the pruner
    tpe_multivariate: bool = False
    tpe_constant_liar: bool = False
    sampler_startup_trials: int | None = None  # None: min(10, max(2, planned // 4)), written when stored
    importance: str = "ped_anova"
    importance_quantile: float = 0.1
    importance_min_trials: int = 5
    objectives: tuple[tuple[str, str], ...] = ()  # (metric, direction) each, for a multi-objective search
    optuna: Mapping[str, Any] | None = field(default=None, hash=False)  # the stored sweep's exact Optuna settings

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

    @property
    def goals(self) -> tuple[tuple[str, str], ...]:
        """Every objective as (metric, direction): one for an ordinary search."""
        return self.objectives or ((self.metric, self.direction),)

    @property
    def multi(self) -> bool:
        return len(self.goals) > 1

    @property
    def sampler_startup(self) -> int:
        """Trials sampled at random before TPE, GP or CMA-ES model the results."""
        if self.sampler_startup_trials is not None:
            return self.sampler_startup_trials
        return min(10, max(2, self.planned // 4))

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
        """The `[search]` table that reads back as this spec, every setting written out."""
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        out.update(strategy=self.strategy)
        if self.trials is not None:
            out["trials"] = self.trials
        out.update(parallel=self.parallel, pruner=self.pruner)
        if self.seed is not None:
            out["seed"] = self.seed
        if self.objectives:
            out.update(metric=[m for m, _ in self.objectives], direction=[d for _, d in self.objectives])
        else:
            out.update(metric=self.metric, direction=self.direction)
        out.update(placement=self.placement)
        if self.executor != "process":
            out["executor"] = self.executor
        if self.pruner != "none" or self.pruner_patience:
            out.update(startup_trials=self.startup_trials, warmup_epochs=self.warmup_epochs,
                       pruner_patience=self.pruner_patience)
        out.update(tpe_multivariate=self.tpe_multivariate, tpe_constant_liar=self.tpe_constant_liar,
                   importance=self.importance,
                   importance_quantile=self.importance_quantile, importance_min_trials=self.importance_min_trials)
        if self.sampler_startup_trials is not None:
            out["sampler_startup_trials"] = self.sampler_startup_trials
        if self.optuna is not None:
            out["optuna"] = dict(self.optuna)
        for p in self.params:
            out[p.key] = p.to_toml_value()
        return out


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
    kwargs = parse_settings(settings)
    if not space:
        raise ConfigError("names no knob to vary; add e.g. \"optim.lr\" = { low = 1e-4, high = 1e-1, log = true }",
                          key="search")
    if len(space) > MAX_KNOBS:
        raise ConfigError(f"varies more than {MAX_KNOBS} knobs", key="search", value=len(space))
    params = tuple(parse_param(key, value, base) for key, value in space.items())
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
    if spec.multi:
        if spec.strategy not in MULTI_STRATEGIES:
            raise ConfigError(f"{spec.strategy} weighs one objective; a list of metrics takes "
                              f"{', '.join(MULTI_STRATEGIES)}", key="search.strategy", value=spec.strategy)
        if spec.pruner != "none" or spec.pruner_patience:
            raise ConfigError("a pruner judges one objective; a list of metrics takes pruner = \"none\" "
                              "and no pruner_patience", key="search.pruner", value=spec.pruner)
