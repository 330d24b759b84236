"""Every setting a sweep's Optuna sampler and pruner get, written out, stored with the sweep, and built from.

Optuna 5 changed its defaults (TPE became multivariate with the constant liar), so a preset and seed
that leave them implicit sample differently under Optuna 4 and 5. A new sweep's settings are pinned
here from its spec, stored in its spec as `optuna = {version, sampler, pruner}`, and a resumed sweep
builds its sampler and pruner from the stored table, whatever the preset or Optuna's defaults say now.
"""
from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engine.errors import ConfigError
from engine.sweeps.space import Choice
from engine.sweeps.spec import SearchSpec

REDUCTION = 3  # successive halving's and Hyperband's: a third of each rung goes on
WILCOXON_P = 0.1
NEEDS = {  # what an Optuna part imports that tunedeck does not need otherwise: (module, package, extra)
    "cmaes": ("cmaes", "cmaes", "cmaes"),
    "gp": ("scipy", "scipy", "search"),
    "qmc": ("scipy", "scipy", "search"),
    "wilcoxon": ("scipy", "scipy", "search"),
    "fanova": ("sklearn", "scikit-learn", "search"),
    "mdi": ("sklearn", "scikit-learn", "search"),
}


def missing(part: str) -> str | None:
    """Why `part` (a strategy, pruner or importance evaluator) cannot be used here, or None if it can."""
    need = NEEDS.get(part)
    if need is None:
        return None
    module, package, extra = need
    try:
        importlib.import_module(module)  # imported, not only found: a broken install counts as absent
        return None
    except ImportError:
        pass
    return f"{part} needs the {package} package, which is not installed: pip install 'tunedeck[{extra}]'"


def check_available(spec: SearchSpec) -> None:
    """Refuse, before a sweep is stored, a strategy or pruner whose package is absent (one line, naming the extra)."""
    for key, part in (("strategy", spec.strategy), ("pruner", spec.pruner)):
        problem = missing(part)
        if problem:
            raise ConfigError(problem, key=f"search.{key}", value=part)


def optuna_version() -> str:
    """The installed Optuna's version, read without importing it (a cockpit queueing a sweep need not)."""
    from importlib.metadata import version

    return version("optuna")


def pin(spec: SearchSpec, max_epochs: int) -> SearchSpec:
    """The seeded spec with its Optuna settings written out (kept as they are if it was stored with them)."""
    spec = spec.with_seed()
    if spec.optuna is not None:
        return spec
    spec = replace(spec, sampler_startup_trials=spec.sampler_startup)
    record = {"version": optuna_version(), "sampler": sampler_settings(spec),
              "pruner": pruner_settings(spec, max_epochs)}
    return replace(spec, optuna=record)


def sampler_settings(spec: SearchSpec) -> dict[str, Any]:
    """The sampler's class and every keyword it is built with (the seed is the spec's)."""
    startup = spec.sampler_startup
    if spec.strategy == "grid":
        return {"class": "GridSampler", "seed": spec.seed}
    if spec.strategy == "random":
        return {"class": "RandomSampler", "seed": spec.seed}
    if spec.strategy == "gp":
        return {"class": "GPSampler", "seed": spec.seed, "n_startup_trials": startup,
                "deterministic_objective": False, "independent_sampler": "RandomSampler"}
    if spec.strategy == "cmaes":
        return {"class": "CmaEsSampler", "seed": spec.seed, "n_startup_trials": startup, "restart_strategy": None,
                "use_separable_cma": False, "with_margin": False, "lr_adapt": False,
                "consider_pruned_trials": False, "independent_sampler": "RandomSampler"}
    if spec.strategy == "qmc":
        return {"class": "QMCSampler", "seed": spec.seed, "qmc_type": "sobol", "scramble": True,
                "independent_sampler": "RandomSampler"}
    return {"class": "TPESampler", "seed": spec.seed, "n_startup_trials": startup,
            "multivariate": spec.tpe_multivariate, "constant_liar": spec.tpe_constant_liar, "group": False,
            "n_ei_candidates": 24}


def pruner_settings(spec: SearchSpec, max_epochs: int) -> dict[str, Any]:
    """The pruner's class and keywords; `pruner_patience` wraps it in a PatientPruner. Epochs are
    Optuna's steps (counted from 1), so waiting `warmup_epochs` means judging from the next one."""
    first = spec.warmup_epochs + 1
    inner: dict[str, Any]
    if spec.pruner == "median":
        inner = {"class": "MedianPruner", "n_startup_trials": spec.startup_trials, "n_warmup_steps": first,
                 "interval_steps": 1, "n_min_trials": 1}
    elif spec.pruner == "successive_halving":
        inner = {"class": "SuccessiveHalvingPruner", "min_resource": first, "reduction_factor": REDUCTION,
                 "min_early_stopping_rate": 0, "bootstrap_count": 0}
    elif spec.pruner == "hyperband":
        inner = {"class": "HyperbandPruner", "min_resource": first, "max_resource": max(first, max_epochs),
                 "reduction_factor": REDUCTION, "bootstrap_count": 0}
    elif spec.pruner == "wilcoxon":
        inner = {"class": "WilcoxonPruner", "p_threshold": WILCOXON_P, "n_startup_steps": first}
    else:
        inner = {"class": "NopPruner"}
    if spec.pruner_patience:
        return {"class": "PatientPruner", "patience": spec.pruner_patience, "min_delta": 0.0,
                "wrapped": None if spec.pruner == "none" else inner}
    return inner


def build_sampler(optuna: Any, settings: Mapping[str, Any], seed: int, spec: SearchSpec) -> Any:
    """The sampler the stored settings describe, drawing from `seed` (a resumed sweep's own)."""
    kwargs = {k: v for k, v in settings.items() if k != "class"}
    kwargs["seed"] = seed
    name = settings.get("class")
    if kwargs.pop("independent_sampler", None) == "RandomSampler":
        kwargs["independent_sampler"] = optuna.samplers.RandomSampler(seed=seed)
        kwargs["warn_independent_sampling"] = False
    if name == "GridSampler":
        space = {p.key: (list(p.values) if p.scalar else list(p.labels)) if isinstance(p, Choice) else p.grid_values()
                 for p in spec.params}
        return _build(optuna.samplers, "GridSampler", {"search_space": space, **kwargs}, "sampler")
    if name == "QMCSampler":
        kwargs["warn_asynchronous_seeding"] = False
    if name not in ("RandomSampler", "TPESampler", "GPSampler", "CmaEsSampler", "QMCSampler"):
        raise ConfigError("names a sampler this tunedeck does not know", key="search.optuna.sampler", value=name)
    return _build(optuna.samplers, name, kwargs, "sampler")


def build_pruner(optuna: Any, settings: Mapping[str, Any] | None) -> Any:
    if settings is None:
        return None
    kwargs = {k: v for k, v in settings.items() if k != "class"}
    name = settings.get("class")
    if name == "PatientPruner":
        kwargs["wrapped_pruner"] = build_pruner(optuna, kwargs.pop("wrapped", None))
    if name not in ("NopPruner", "MedianPruner", "SuccessiveHalvingPruner", "HyperbandPruner", "WilcoxonPruner",
                    "PatientPruner"):
        raise ConfigError("names a pruner this tunedeck does not know", key="search.optuna.pruner", value=name)
    return _build(optuna.pruners, name, kwargs, "pruner")


def _build(module: Any, name: str, kwargs: dict[str, Any], what: str) -> Any:
    """Optuna's class built with the stored keywords; a table Optuna refuses is a ConfigError, not a traceback."""
    import optuna

    with warnings.catch_warnings():  # QMCSampler and WilcoxonPruner are "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return getattr(module, name)(**kwargs)
        except (TypeError, ValueError, ImportError) as exc:
            raise ConfigError(f"Optuna cannot build {name} from these settings: {exc}",
                              key=f"search.optuna.{what}", value=dict(kwargs)) from None
