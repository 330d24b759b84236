"""A sweep written as an Optuna study in an SQLite file, for `optuna.load_study` and optuna-dashboard.

Everything comes from the store (as engine.sweeps.results reads it), nothing from a live study:
each ended trial becomes a study trial with the sweep's searched values as params, each under the
distribution the sweep sampled it from (engine.sweeps.sampler.distribution), its objective
value(s) as the sweep judged them (engine.sweeps.objectives), and the first objective's metric
per epoch as its intermediate values. A completed trial is COMPLETE, a pruned one PRUNED, every
other ended trial (failed, diverged, cancelled, interrupted) FAIL; tunedeck's own state, reason
and trial id ride along as user attributes. Running and queued trials are left out.

The file is built beside its target under a temporary name and renamed over it when complete, so
it exists whole or not at all. Lives beside the sweeps it reads (engine.tables sits below
engine.sweeps in the layers).
"""
from __future__ import annotations

import os
import tempfile
import warnings
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.errors import ConfigError, ExportError, StoreError, safe_text
from engine.states import TrialState
from engine.store import Store
from engine.sweeps.objectives import epoch_values, objective_values
from engine.sweeps.results import config_value
from engine.sweeps.sampler import distribution, optuna_value
from engine.sweeps.spec import SearchSpec, parse_search

EPOCH_OBJECTIVES = ("params", "epoch_time")  # objectives that are no per-epoch metric


@dataclass(frozen=True)
class StudyExport:
    """What was written: the study's name (for `optuna.load_study`), the storage URL and the counts."""

    path: Path
    study_name: str
    storage: str
    written: int
    completed: int
    left_out: int  # running or queued trials, and trials whose values the spec cannot hold


def study_name(sweep_id: int, name: str) -> str:
    return f"tunedeck sweep {sweep_id}" + (f": {name}" if name else "")


def export_study(store: Store, sweep_id: int, path: str | Path, *, force: bool = False) -> StudyExport:
    """Write sweep `sweep_id` of `store` as an Optuna study into the SQLite file `path`.

    Refuses (ExportError, StoreError) an existing file without `force`, an unknown sweep and a sweep
    with no completed trial; nothing is left behind when it fails.
    """
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"{safe_text(target)} is a directory")
    if target.exists() and not force:
        raise ExportError(f"{safe_text(target)} exists; use --force to overwrite")
    if not target.parent.is_dir():
        raise ExportError(f"cannot write {safe_text(target)}: directory {safe_text(target.parent)} does not exist")
    record = store.sweep(sweep_id)
    try:
        spec = parse_search(record.spec, Config.from_dict(record.base))
    except ConfigError as exc:
        raise StoreError(f"sweep {sweep_id} was stored by another version of tunedeck and cannot be read: "
                         f"{exc}") from None
    trials = [t for t in store.trials(sweep_id=sweep_id) if t.state.is_finished]
    values = objective_values(store, trials, spec.goals)
    completed = [t for t in trials if t.state.scores and t.id in values]
    if not completed:
        ended = f"{len(trials)} ended, none completed" if trials else "no trial has ended yet"
        raise StoreError(f"sweep {sweep_id} has no completed trial to export ({ended})")
    first = spec.goals[0][0]
    epochs = epoch_values(store, [t.id for t in trials], first) if first not in EPOCH_OBJECTIVES else {}
    frozen = [f for t in trials if (f := _frozen(spec, t, values.get(t.id), epochs.get(t.id, {}))) is not None]
    name = study_name(sweep_id, record.name)
    storage = _write(target, name, spec, frozen, {"tunedeck_sweep_id": sweep_id, "tunedeck_store": str(Path(store.path).resolve()),
                                                 "strategy": spec.strategy, "pruner": spec.pruner})
    n_completed = sum(1 for f in frozen if f.state.name == "COMPLETE")
    all_trials = store.trials(sweep_id=sweep_id)
    return StudyExport(target, name, storage, len(frozen), n_completed, len(all_trials) - len(frozen))


def _frozen(spec: SearchSpec, trial: Any, values: tuple[float, ...] | None, epochs: dict[int, float]) -> Any:
    """The trial as Optuna's FrozenTrial, or None when a searched value is one the spec cannot hold."""
    import optuna

    params = {p.key: optuna_value(p, config_value(trial.config, p.key)) for p in spec.params}
    if any(v is None for v in params.values()):
        return None
    ts = optuna.trial.TrialState
    kwargs: dict[str, Any] = {"state": ts.FAIL}
    if trial.state.scores and values is not None:
        kwargs = {"state": ts.COMPLETE, "values": list(values)}
    elif trial.state == TrialState.PRUNED:
        kwargs = {"state": ts.PRUNED}
    attrs = {"tunedeck_trial_id": trial.id, "tunedeck_state": trial.state.value}
    if trial.reason:
        attrs["tunedeck_reason"] = trial.reason
    try:
        frozen = optuna.trial.create_trial(params=params, distributions={p.key: distribution(optuna, p)
                                                                         for p in spec.params},
                                           user_attrs=attrs, intermediate_values=dict(epochs), **kwargs)
    except ValueError:  # a stored value outside the spec's range
        return None
    if trial.started_at is not None and trial.finished_at is not None:
        frozen.datetime_start = datetime.fromtimestamp(trial.started_at)
        frozen.datetime_complete = datetime.fromtimestamp(max(trial.finished_at, trial.started_at))
    return frozen


def _write(target: Path, name: str, spec: SearchSpec, frozen: list[Any], study_attrs: dict[str, Any]) -> str:
    """Build the study in a temporary file beside `target`, then rename it over `target`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ExportError(f"cannot write {safe_text(target)}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(tmp)  # SQLite creates the file itself
    storage = None
    try:
        storage = optuna.storages.RDBStorage(sqlite_url(Path(tmp)))
        directions: list[Any] = [d for _, d in spec.goals]
        study = optuna.create_study(study_name=name, storage=storage, directions=directions)
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2; the dashboard labels its axes with them
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([metric for metric, _ in spec.goals])
        for key, value in study_attrs.items():
            study.set_user_attr(key, value)
        study.add_trials(frozen)
        storage.engine.dispose()
        os.replace(tmp, target)
    except BaseException as exc:
        if storage is not None:
            storage.engine.dispose()
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, Exception):
            raise ExportError(f"cannot write {safe_text(target)} as an Optuna study: {safe_text(exc, 300)}") from exc
        raise
    return sqlite_url(target.resolve())


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file `path`, quoted: a `?`, `%` or `#` in the name is part of the name,
    not a query string or an escape (pasted into `sqlite:///` text, `x?.db` would write `x`)."""
    from sqlalchemy.engine import URL

    return URL.create(drivername="sqlite", database=str(path)).render_as_string(hide_password=False)
