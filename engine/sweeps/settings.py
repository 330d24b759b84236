"""The settings of a `[search]` table (every key without a dot): how a sweep samples, prunes and judges.

Each is checked here and named `search.<key>` in an error. The sampler's and the importance
evaluator's settings are explicit (Optuna 5 changed its defaults under everyone who took them
implicitly); `docs/search.md` says which and why.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from engine.config.knobs import suggest
from engine.errors import ConfigError
from engine.execution.placement import POLICIES

STRATEGIES = ("grid", "random", "tpe", "gp", "cmaes", "qmc")
PRUNERS = ("none", "median", "successive_halving", "hyperband", "wilcoxon")
METRICS = {"val_loss": "minimize", "val_acc": "maximize", "train_loss": "minimize"}
# What a multi-objective search can weigh: the epoch metrics, the parameter count, the mean epoch time.
OBJECTIVES = {**METRICS, "params": "minimize", "epoch_time": "minimize"}
DIRECTIONS = ("minimize", "maximize")
IMPORTANCE = ("ped_anova", "fanova", "mdi")
EXECUTORS = ("process", "thread", "ray")  # where the trials train: engine.execution.{trainer_process,executors,ray_executor}
DEFAULT_TRIALS = 20
MAX_PARALLEL = 64
MAX_TRIALS = 100_000
MAX_OBJECTIVES = 4
SETTINGS = ("name", "strategy", "trials", "parallel", "pruner", "seed", "metric", "direction", "placement",
            "executor", "startup_trials", "warmup_epochs", "pruner_patience", "tpe_multivariate", "tpe_constant_liar",
            "sampler_startup_trials", "importance", "importance_quantile", "importance_min_trials", "optuna")


def int_setting(settings: Mapping[str, Any], key: str, low: int, high: int | None = None) -> int | None:
    if key not in settings:
        return None
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("must be an integer", key=f"search.{key}", value=value)
    if value < low or (high is not None and value > high):
        rule = f"must be >= {low}" + (f" and <= {high}" if high is not None else "")
        raise ConfigError(rule, key=f"search.{key}", value=value)
    return value


def choice_setting(value: Any, key: str, options: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ConfigError(f"must be one of {', '.join(options)}" + suggest(str(value), list(options)),
                          key=f"search.{key}", value=value)
    return value


def parse_settings(s: Mapping[str, Any]) -> dict[str, Any]:
    """The SearchSpec keyword arguments the settings give; each value checked."""
    out: dict[str, Any] = {}
    if "name" in s:
        if not isinstance(s["name"], str):
            raise ConfigError("must be a string", key="search.name", value=s["name"])
        out["name"] = s["name"]
    for key, options in (("strategy", STRATEGIES), ("pruner", PRUNERS), ("placement", POLICIES),
                         ("importance", IMPORTANCE), ("executor", EXECUTORS)):
        if key in s:
            out[key] = choice_setting(s[key], key, options)
    for key, low, high in (("trials", 1, MAX_TRIALS), ("parallel", 1, MAX_PARALLEL), ("seed", 0, 2**32 - 1),
                           ("startup_trials", 0, MAX_TRIALS), ("warmup_epochs", 0, 1_000_000),
                           ("pruner_patience", 0, 1_000_000), ("sampler_startup_trials", 0, MAX_TRIALS),
                           ("importance_min_trials", 1, MAX_TRIALS)):
        value = int_setting(s, key, low, high)
        if value is not None:
            out[key] = value
    for key in ("tpe_multivariate", "tpe_constant_liar"):
        if key in s:
            if not isinstance(s[key], bool):
                raise ConfigError("must be true or false", key=f"search.{key}", value=s[key])
            out[key] = s[key]
    if "importance_quantile" in s:
        q = s["importance_quantile"]
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q) or not 0 < q < 1:
            raise ConfigError("must be a number between 0 and 1 (exclusive), e.g. 0.1 for the top 10 %",
                              key="search.importance_quantile", value=q)
        out["importance_quantile"] = float(q)
    if "optuna" in s:
        out["optuna"] = _stored_optuna(s["optuna"])
    out.update(_objectives(s))
    return out


def _objectives(s: Mapping[str, Any]) -> dict[str, Any]:
    """`metric` (one name, or a list for a multi-objective search) and `direction` (one, or one per metric)."""
    metric = s.get("metric", "val_loss")
    if isinstance(metric, list):
        if not 2 <= len(metric) <= MAX_OBJECTIVES:
            raise ConfigError(f"a list of metrics makes a multi-objective search: give 2 to {MAX_OBJECTIVES}",
                              key="search.metric", value=metric)
        names = tuple(choice_setting(m, "metric", list(OBJECTIVES)) for m in metric)
        if len(set(names)) < len(names):
            raise ConfigError("names a metric more than once", key="search.metric", value=metric)
        direction = s.get("direction", [OBJECTIVES[m] for m in names])
        if not isinstance(direction, list) or len(direction) != len(names):
            raise ConfigError(f"a multi-objective search takes one direction per metric (a list of {len(names)})",
                              key="search.direction", value=direction)
        directions = tuple(choice_setting(d, "direction", DIRECTIONS) for d in direction)
        return {"metric": names[0], "direction": directions[0], "objectives": tuple(zip(names, directions))}
    name = choice_setting(metric, "metric", list(METRICS))
    direction = choice_setting(s.get("direction", METRICS[name]), "direction", DIRECTIONS)
    return {"metric": name, "direction": direction}


def _stored_optuna(value: Any) -> dict[str, Any]:
    """What a stored sweep recorded of Optuna: its version and the exact settings its sampler and pruner got."""
    if (not isinstance(value, Mapping) or not isinstance(value.get("version"), str)
            or not all(isinstance(value.get(k), Mapping) for k in ("sampler", "pruner"))):
        raise ConfigError("is written by tunedeck when a sweep is stored: a table with version, sampler and pruner",
                          key="search.optuna", value=value)
    return dict(value)
