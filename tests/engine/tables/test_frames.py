from __future__ import annotations

import datetime as dt
import json
import sqlite3

import polars as pl
import pytest

from engine.config.groups import iter_fields
from engine.errors import ConfigError
from engine.states import TrialState
from engine.store import Store
from engine.tables.frames import (
    HISTORY_SCHEMA,
    KNOB_COLUMNS,
    TRIAL_SCHEMA,
    history_frame,
    select_trials,
    trial_frame,
    trial_schema,
    varying_columns,
)


def _by_name(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["name"]: row for row in frame.iter_rows(named=True)}


def test_trial_frame_schema_is_fixed(mixed_store: Store, tmp_path) -> None:
    full = trial_frame(mixed_store.trials())
    with Store(tmp_path / "empty.db") as empty:
        none = trial_frame(empty.trials())
    assert none.height == 0 and full.height == 5
    assert none.schema == full.schema == TRIAL_SCHEMA == trial_schema()
    keys = [f.key for f in iter_fields()]
    assert full.columns == ["id", "name", "state", "task", *keys, "best_epoch", "best_val_loss", "val_acc_at_best",
                            "test_loss", "test_acc", "epochs_run", "steps", "max_val_acc", "duration_s", "created_at",
                            "started_at", "finished_at", "device", "reason", "sweep_id"]
    assert full.schema["optim.lr"] == pl.Float64 and full.schema["optim.batch_size"] == pl.Int64
    assert full.schema["run.device"] == pl.Utf8 and full.schema["reg.l1"] == pl.Float64
    assert full.schema["early_stop.restore_best"] == pl.Boolean
    assert full.schema["model.hidden"] == pl.Utf8 and full.schema["task.options"] == pl.Utf8
    assert full.schema["created_at"] == pl.Datetime("us", "UTC")


def test_trial_frame_values(mixed_store: Store) -> None:
    records = {r.name: r for r in mixed_store.trials()}
    rows = _by_name(trial_frame(mixed_store.trials()))
    wide, waiting, broken = rows["wide"], rows["waiting"], rows["broken"]
    assert wide["model.hidden"] == "256,128" and rows["narrow"]["model.hidden"] == "64"
    assert wide["optim.lr"] == 0.01 and wide["state"] == "completed" and wide["task"] == "toy2d"
    assert wide["sweep_id"] == 7 and rows["narrow"]["sweep_id"] is None
    assert wide["best_val_loss"] == 0.3 and wide["epochs_run"] == 2 and wide["device"] == "cpu"
    assert wide["created_at"] == dt.datetime.fromtimestamp(records["wide"].created_at, dt.timezone.utc)
    assert broken["state"] == "failed" and broken["reason"] == "failed in test"
    assert waiting["state"] == "queued" and waiting["started_at"] is None and waiting["finished_at"] is None
    assert waiting["device"] is None and waiting["best_val_loss"] is None and waiting["reason"] is None
    assert waiting["created_at"] is not None and rows["live"]["finished_at"] is None


def test_lists_tables_and_missing_or_odd_stored_values(store: Store, run_trial) -> None:
    table = run_trial(store, {"task": {"name": "table-csv", "path": "d.csv", "feature_columns": ["a", "b"]}})
    plugin = run_trial(store, {"task": {"name": "mypkg.tasks:build", "options": {"k": 1, "a": [2]}}})
    old = run_trial(store, {"optim": {"lr": 0.5}})
    store.close()
    raw = sqlite3.connect(store.path)
    with raw:
        config = {"optim": {"batch_size": "many"}, "model": {"hidden": 32}}
        raw.execute("UPDATE trials SET config_json = ? WHERE id = ?", (json.dumps(config), old))
    raw.close()
    with Store(store.path) as again:
        frame = trial_frame(again.trials())
    rows = {row["id"]: row for row in frame.iter_rows(named=True)}
    assert rows[table]["task.feature_columns"] == "a,b" and rows[plugin]["task.feature_columns"] == ""
    assert json.loads(rows[plugin]["task.options"]) == {"k": 1, "a": [2]} and rows[table]["task.options"] == "{}"
    assert rows[old]["optim.lr"] == 0.001
    assert rows[old]["optim.batch_size"] is None
    assert rows[old]["model.hidden"] == "32"


def test_history_frame(mixed_store: Store) -> None:
    frame = history_frame(mixed_store.history())
    assert frame.schema == HISTORY_SCHEMA
    assert frame.height == len(mixed_store.history()) > 0
    assert history_frame([]).schema == HISTORY_SCHEMA
    assert set(frame["metric"].unique()) == {"step_loss", "train_loss", "val_loss", "val_acc", "lr", "epoch_seconds"}


def test_select_by_state(mixed_store: Store) -> None:
    frame = trial_frame(mixed_store.trials())
    assert select_trials(frame, state="completed")["name"].to_list() == ["wide", "narrow"]
    assert select_trials(frame, state=["queued", "failed"])["name"].to_list() == ["broken", "waiting"]
    with pytest.raises(ConfigError, match=r"state: unknown state \(did you mean 'running'\?\)"):
        select_trials(frame, state="runing")


def test_sort_puts_nulls_and_failures_last(mixed_store: Store) -> None:
    frame = trial_frame(mixed_store.trials())
    asc = select_trials(frame, sort="best_val_loss")["name"].to_list()
    desc = select_trials(frame, sort="best_val_loss", desc=True)["name"].to_list()
    assert asc == ["narrow", "wide", "live", "waiting", "broken"]
    assert desc == ["live", "wide", "narrow", "waiting", "broken"]
    assert select_trials(frame, sort="best_val_loss", limit=2)["name"].to_list() == ["narrow", "wide"]
    assert select_trials(frame, sort="id", desc=True)["name"].to_list() == ["waiting", "live", "narrow", "wide",
                                                                           "broken"]
    assert select_trials(frame, limit=1)["name"].to_list() == ["wide"]


def test_sort_ties_keep_id_order(store: Store, run_trial) -> None:
    for i in range(6):
        run_trial(store, {"name": f"t{i}", "optim": {"lr": 0.1 if i % 2 else 0.2}},
                  state=TrialState.INTERRUPTED if i == 0 else TrialState.COMPLETED)
    frame = trial_frame(store.trials()).reverse()
    assert select_trials(frame, sort="optim.lr")["name"].to_list() == ["t1", "t3", "t5", "t2", "t4", "t0"]
    assert select_trials(frame, sort="optim.lr", desc=True)["name"].to_list() == ["t2", "t4", "t1", "t3", "t5",
                                                                                 "t0"]


def test_sort_on_unknown_column_names_it(mixed_store: Store) -> None:
    frame = trial_frame(mixed_store.trials())
    with pytest.raises(ConfigError, match=r"sort: unknown column \(did you mean 'optim.lr'\?\), got 'optim.lrr'"):
        select_trials(frame, sort="optim.lrr")


def test_varying_columns(store: Store, run_trial) -> None:
    run_trial(store, {"model": {"hidden": [256, 128]}, "optim": {"lr": 0.01}})
    assert varying_columns(trial_frame(store.trials())) == []
    run_trial(store, {"model": {"hidden": [64]}, "optim": {"lr": 0.01}})
    run_trial(store, {"model": {"hidden": [64]}, "optim": {"lr": 0.1}, "name": "other"})
    frame = trial_frame(store.trials())
    assert varying_columns(frame) == ["model.hidden", "optim.lr"]
    assert set(varying_columns(frame)) <= set(KNOB_COLUMNS)


def test_times_match_datetime_from_timestamp(mixed_store: Store) -> None:
    import dataclasses
    import random

    base = mixed_store.trials()[0]
    rng = random.Random(0)
    stamps = [rng.uniform(0, 4e9) for _ in range(3000)] + [1795920082.1945846, 0.5, 1e9 + 0.9999995]
    frame = trial_frame([dataclasses.replace(base, created_at=ts) for ts in stamps])
    expected = [dt.datetime.fromtimestamp(ts, dt.timezone.utc) for ts in stamps]
    assert frame["created_at"].to_list() == expected
