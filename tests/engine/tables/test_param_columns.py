"""The trials' own params as `params.<name>` columns: in the frame, in what varies, in exports, and in the
follower's patched frame when a trial brings a param the frame has not seen."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.config.groups import Config
from engine.store import Store
from engine.tables.export import export_frame, read_export
from engine.tables.follower import StoreFollower
from engine.tables.frames import KNOB_COLUMNS, TRIAL_SCHEMA, trial_frame, varying_columns
from tests.engine.tables.test_follower import STARTED

SPEC = {"heads": {"type": "int", "default": 4, "low": 1, "high": 16},
        "norm": {"type": "str", "default": "layer", "choices": ["layer", "batch"]},
        "widths": {"type": "int_list", "default": [8, 4]}}


def _with_params(**values: object) -> Config:
    return Config.from_dict({"params_spec": SPEC, "params": values})


def test_param_columns_follow_the_knobs_and_count_as_varying(tmp_path: Path) -> None:
    with Store(tmp_path / "t.db") as store:
        store.create_trial(Config())
        store.create_trial(_with_params(heads=2))
        store.create_trial(_with_params(heads=8, norm="batch"))
        frame = trial_frame(store.trials())
    params = ["params.heads", "params.norm", "params.widths"]
    at = frame.columns.index(KNOB_COLUMNS[-1]) + 1
    assert frame.columns[at:at + 3] == params
    assert [c for c in frame.columns if c not in params] == list(TRIAL_SCHEMA)
    assert frame.schema["params.heads"] == pl.Int64 and frame.schema["params.norm"] == pl.Utf8
    assert frame["params.heads"].to_list() == [None, 2, 8]
    assert frame["params.widths"].to_list() == [None, "8,4", "8,4"]
    assert {"params.heads", "params.norm", "params.widths"} <= set(varying_columns(frame))  # absent counts
    same_widths = frame.filter(pl.col("params.heads").is_not_null())
    assert [c for c in varying_columns(same_widths) if c.startswith("params.")] == ["params.heads", "params.norm"]


def test_exports_carry_the_param_columns(tmp_path: Path) -> None:
    with Store(tmp_path / "t.db") as store:
        store.create_trial(_with_params(heads=3))
        frame = trial_frame(store.trials())
    for fmt in ("csv", "parquet", "json"):
        path = export_frame(frame, tmp_path / f"trials.{fmt}", fmt)
        back = read_export(path, fmt, frame.schema)
        assert back["params.heads"].to_list() == [3] and back["params.norm"].to_list() == ["layer"]


def test_the_follower_rebuilds_for_a_new_param_column_and_patches_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    writer = Store(path)
    follower = StoreFollower(Store(path))
    writer.create_trial(Config())
    follower.poll()
    assert "params.heads" not in follower.frame.columns
    writer.create_trial(_with_params(heads=5))
    follower.poll()
    assert follower.frame.equals(trial_frame(writer.trials()))
    assert follower.frame["params.heads"].to_list() == [None, 5]
    writer.create_trial(Config())  # a trial without params: patched in, its param cells null
    writer.start_trial(1, STARTED, {})
    follower.poll()
    assert follower.frame.equals(trial_frame(writer.trials()))
    assert follower.frame["params.heads"].to_list() == [None, 5, None]
