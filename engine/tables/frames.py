"""Polars views of the store: the trial table and the metric history, with fixed schemas.

The TUI table, `tunedeck list` and every export read these frames, so a column has one name and
one dtype everywhere, and an empty store gives the same columns as a full one.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from engine.config.groups import iter_fields
from engine.config.knobs import BOOL, FLOAT, INT, INT_LIST, STR_LIST, TABLE, FieldInfo, suggest
from engine.config.params import PARAMS, PARAMS_SPEC, TYPES
from engine.errors import ConfigError
from engine.events import INTEGER_SUMMARY_COLUMNS, SUMMARY_COLUMNS
from engine.metric_names import column_hint
from engine.states import TrialState
from engine.store.schema import TrialRecord

_KIND_DTYPES: dict[str, pl.DataType] = {INT: pl.Int64(), FLOAT: pl.Float64(), BOOL: pl.Boolean()}
_TIME = pl.Datetime("us", "UTC")
_FIELDS: tuple[FieldInfo, ...] = tuple(iter_fields())
KNOB_COLUMNS: tuple[str, ...] = tuple(f.key for f in _FIELDS)
FAILED_STATES: frozenset[str] = frozenset(s.value for s in TrialState if s.sorts_last)
_TIME_COLUMNS = ("created_at", "started_at", "finished_at")


def _build_trial_schema() -> pl.Schema:
    cols: list[tuple[str, pl.DataType]] = [
        ("id", pl.Int64()), ("name", pl.Utf8()), ("state", pl.Utf8()), ("task", pl.Utf8())]
    cols += [(f.key, _KIND_DTYPES.get(f.knob.kind, pl.Utf8())) for f in _FIELDS]
    return pl.Schema(cols + _AFTER_KNOBS)


_AFTER_KNOBS: list[tuple[str, pl.DataType]] = [
    *((name, pl.Int64() if name in INTEGER_SUMMARY_COLUMNS else pl.Float64()) for name in SUMMARY_COLUMNS),
    ("duration_s", pl.Float64()), *((name, _TIME) for name in _TIME_COLUMNS),
    ("device", pl.Utf8()), ("reason", pl.Utf8()), ("sweep_id", pl.Int64())]


TRIAL_SCHEMA: pl.Schema = _build_trial_schema()
HISTORY_SCHEMA: pl.Schema = pl.Schema(
    [("trial_id", pl.Int64()), ("epoch", pl.Int64()), ("step", pl.Int64()), ("metric", pl.Utf8()),
     ("value", pl.Float64())])


def trial_schema() -> pl.Schema:
    """A copy of the trial table's schema, for readers that build or check frames."""
    return pl.Schema(TRIAL_SCHEMA)


def _cell(kind: str, value: Any) -> Any:
    """A stored knob value in the column's type; None when an old store holds something else."""
    if value is None:
        return None
    try:
        if kind == INT:
            return None if isinstance(value, bool) else int(value)
        if kind == FLOAT:
            return None if isinstance(value, bool) else float(value)
        if kind == BOOL:
            return value if isinstance(value, bool) else None
        if kind in (INT_LIST, STR_LIST):
            items = value if isinstance(value, (list, tuple)) else [value]
            return ",".join(str(v) for v in items)
        if kind == TABLE:
            return json.dumps(value, sort_keys=True, default=str)
        return value if isinstance(value, str) else str(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _knob_value(config: dict[str, Any], info: FieldInfo) -> Any:
    group = config.get(info.group)
    if isinstance(group, dict) and info.name in group:
        return _cell(info.knob.kind, group[info.name])
    return _cell(info.knob.kind, info.default)


def _micros(ts: float | None) -> int | None:
    """Unix seconds to microseconds, rounded the way `datetime.fromtimestamp` rounds."""
    if ts is None:
        return None
    frac, whole = math.modf(ts)
    return int(whole) * 1_000_000 + round(frac * 1e6)


def param_kinds(records: Iterable[TrialRecord]) -> dict[str, str]:
    """`params.<name>` -> knob kind for every param any of the trials declares, sorted by name.

    A name declared with two types takes the first trial's; the others' values that do not fit are null.
    """
    kinds: dict[str, str] = {}
    for r in records:
        spec = r.config.get(PARAMS_SPEC)
        if not isinstance(spec, dict):
            continue
        for name, declared in spec.items():
            kind = TYPES.get(declared.get("type", "")) if isinstance(declared, dict) else None
            kinds.setdefault(f"{PARAMS}.{name}", kind or "")
    return dict(sorted(kinds.items()))


def _param_value(config: dict[str, Any], key: str, kind: str) -> Any:
    values = config.get(PARAMS)
    name = key.partition(".")[2]
    return _cell(kind, values.get(name)) if isinstance(values, dict) else None


def trial_frame(records: Sequence[TrialRecord]) -> pl.DataFrame:
    """One row per trial, knobs spread into columns so they can be sorted and compared.

    The trials' own params (`params.<name>`, the union over the trials, by name) follow the knobs;
    a trial that does not declare one has null there.
    """
    params = param_kinds(records)
    schema = _with_params(params)
    data: dict[str, list[Any]] = {name: [] for name in schema}
    for r in records:
        data["id"].append(r.id)
        data["name"].append(r.name)
        data["state"].append(r.state.value)
        data["task"].append(r.task)
        for info in _FIELDS:
            data[info.key].append(_knob_value(r.config, info))
        for key, kind in params.items():
            data[key].append(_param_value(r.config, key, kind))
        for name in (*SUMMARY_COLUMNS, "duration_s", "device", "reason", "sweep_id"):
            data[name].append(getattr(r, name))
        for name in _TIME_COLUMNS:
            data[name].append(_micros(getattr(r, name)))
    build = {name: (pl.Int64() if name in _TIME_COLUMNS else dtype) for name, dtype in schema.items()}
    frame = pl.DataFrame(data, schema=build, strict=False)
    return frame.with_columns(pl.col(name).cast(_TIME) for name in _TIME_COLUMNS)


def _with_params(params: dict[str, str]) -> pl.Schema:
    """The trial schema with param columns after the knobs."""
    if not params:
        return TRIAL_SCHEMA
    cols = list(TRIAL_SCHEMA.items())
    at = len(cols) - len(_AFTER_KNOBS)
    cols[at:at] = [(key, _KIND_DTYPES.get(kind, pl.Utf8())) for key, kind in params.items()]
    return pl.Schema(cols)


def param_columns(frame: pl.DataFrame) -> list[str]:
    """The frame's `params.<name>` columns."""
    return [name for name in frame.columns if name.startswith(PARAMS + ".")]


def history_frame(rows: Iterable[Sequence[Any]]) -> pl.DataFrame:
    """The long metric table (one row per logged value) that the plots and exports read."""
    return pl.DataFrame(list(rows), schema=HISTORY_SCHEMA, orient="row")


def _check_column(frame: pl.DataFrame, name: str, key: str) -> None:
    if name not in frame.columns:
        raise ConfigError("unknown column" + column_hint(name, frame.columns), key=key, value=name)


def select_trials(
    frame: pl.DataFrame,
    *,
    state: str | list[str] | None = None,
    sort: str | None = None,
    desc: bool = False,
    limit: int | None = None,
) -> pl.DataFrame:
    """Filter and order trials the way a person scans them: failures never crowd the top.

    Without `sort` the frame keeps its order. With it, nulls come last and failed, diverged,
    cancelled and interrupted trials follow every other trial in either direction; ties keep id
    order.
    """
    if state is not None:
        _check_column(frame, "state", "state")
        wanted = [state] if isinstance(state, str) else list(state)
        known = [s.value for s in TrialState]
        for s in wanted:
            if s not in known:
                raise ConfigError("unknown state" + suggest(s, known) + "; states are " + ", ".join(known),
                                  key="state", value=s)
        frame = frame.filter(pl.col("state").is_in(wanted))
    if sort is not None:
        _check_column(frame, sort, "sort")
        key = pl.col(sort)
        if frame.schema[sort].is_float():
            key = key.fill_nan(None)
        by = [key]
        descending = [desc]
        if "state" in frame.columns:
            by.insert(0, pl.col("state").is_in(list(FAILED_STATES)))
            descending.insert(0, False)
        if "id" in frame.columns and sort != "id":
            by.append(pl.col("id"))
            descending.append(False)
        frame = frame.sort(by, descending=descending, nulls_last=True, maintain_order=True)
    if limit is not None:
        if limit < 0:
            raise ConfigError("must be >= 0", key="limit", value=limit)
        frame = frame.head(limit)
    return frame


def varying_columns(frame: pl.DataFrame) -> list[str]:
    """Knob and param columns that differ between the rows: what a comparison is actually about."""
    if frame.height < 2:
        return []
    keys = [*KNOB_COLUMNS, *param_columns(frame)]
    return [key for key in keys if key in frame.columns and frame[key].n_unique() > 1]
