from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest

from engine.errors import ExportError
from engine.store import Store
from engine.tables.export import FORMATS, export_frame, format_for, read_export
from engine.tables.frames import history_frame, trial_frame

SUFFIX = {"csv": "csv", "parquet": "parquet", "json": "json", "ndjson": "ndjson", "markdown": "md"}


def _round_trip(frame: pl.DataFrame, path: Path, fmt: str) -> pl.DataFrame:
    written = export_frame(frame, path, fmt)
    assert written == path and path.exists()
    return read_export(path, fmt, frame.schema)


@pytest.mark.parametrize("fmt", FORMATS)
def test_trial_and_history_frames_read_back_equal(mixed_store: Store, tmp_path: Path, fmt: str) -> None:
    trials = trial_frame(mixed_store.trials())
    history = history_frame(mixed_store.history())
    assert trials["started_at"].null_count() > 0 and trials["best_val_loss"].null_count() > 0
    back = _round_trip(trials, tmp_path / f"trials.{SUFFIX[fmt]}", fmt)
    assert back.equals(trials), (back, trials)
    assert _round_trip(history, tmp_path / f"history.{SUFFIX[fmt]}", fmt).equals(history)
    empty = trials.clear()
    assert _round_trip(empty, tmp_path / f"empty.{SUFFIX[fmt]}", fmt).equals(empty)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("fmt", ["csv", "parquet", "markdown"])
def test_awkward_values_survive(tmp_path: Path, fmt: str) -> None:
    texts = ["", None, " padded ", "a|b", "\\|", '"quoted"', '""', "back\\slash", "line\nbreak\ttab", "ünï",
             "-", "1.5"]
    floats = [0.1 + 0.2, None, 1e-300, float("inf"), float("-inf"), float("nan"), 123456789.123456789, 5e-324,
              -0.0, 1.0, 2.0 / 3.0, 1e22]
    when = dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)
    frame = pl.DataFrame({
        "text|col": texts,
        "x": floats,
        "n": [None, *range(-5, 6)],
        "ok": [True, False, None, *[True] * 9],
        "at": [when, None, *[when - dt.timedelta(days=i, microseconds=i) for i in range(10)]],
    }, schema={"text|col": pl.Utf8, "x": pl.Float64, "n": pl.Int64, "ok": pl.Boolean,
               "at": pl.Datetime("us", "UTC")})
    back = _round_trip(frame, tmp_path / f"odd.{SUFFIX[fmt]}", fmt)
    assert back.equals(frame), (back, frame)


def test_markdown_is_a_readable_table(mixed_store: Store, tmp_path: Path) -> None:
    frame = trial_frame(mixed_store.trials()).select("id", "name", "optim.lr", "model.hidden", "best_val_loss")
    path = export_frame(frame, tmp_path / "t.md", "markdown")
    lines = path.read_text().splitlines()
    assert lines[0].split("|")[1].strip() == "id" and set(lines[1]) <= {"|", "-", ":"}
    assert len(lines) == 2 + frame.height
    assert "| wide" in lines[2] and "256,128" in lines[2] and " 0.01 " in lines[2]


def test_format_for() -> None:
    assert format_for("a.CSV", None) == "csv"
    assert format_for("a.jsonl", None) == "ndjson"
    assert format_for("a.md", None) == "markdown"
    assert format_for("a.txt", "parquet") == "parquet"
    with pytest.raises(ExportError, match=r"a\.xlsx: cannot tell the format .*csv, parquet, json, ndjson, markdown"):
        format_for("a.xlsx", None)
    with pytest.raises(ExportError, match=r"a\.csv: unknown format 'xml'; use one of csv, parquet"):
        format_for("a.csv", "xml")


def test_existing_file_is_refused_without_force(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("precious\n")
    frame = pl.DataFrame({"a": [1, 2]})
    with pytest.raises(ExportError, match=r"t\.csv exists; use --force to overwrite"):
        export_frame(frame, path, "csv")
    assert path.read_text() == "precious\n"
    export_frame(frame, path, "csv", force=True)
    assert read_export(path, "csv", frame.schema).equals(frame)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot show this")


@pytest.mark.parametrize("fmt", FORMATS)
def test_failed_write_leaves_nothing(tmp_path: Path, fmt: str) -> None:
    bad = pl.DataFrame({"a": [1], "o": pl.Series([Unprintable()], dtype=pl.Object)})
    path = tmp_path / f"t.{SUFFIX[fmt]}"
    with pytest.raises(ExportError, match=rf"cannot write .*t\.{SUFFIX[fmt]} as {fmt}: "):
        export_frame(bad, path, fmt)
    assert list(tmp_path.iterdir()) == []
    path.write_text("old")
    with pytest.raises(ExportError):
        export_frame(bad, path, fmt, force=True)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_directory_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.md").mkdir()
    with pytest.raises(ExportError, match=r"t\.md is a directory"):
        export_frame(pl.DataFrame({"a": [1]}), tmp_path / "t.md", "markdown", force=True)


def test_missing_directory_is_an_export_error(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "t.csv"
    with pytest.raises(ExportError, match=r"cannot write .*t\.csv: directory .*nope does not exist"):
        export_frame(pl.DataFrame({"a": [1]}), path, "csv")
    assert not path.parent.exists()


def test_unreadable_export_is_an_export_error(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_text("not parquet")
    with pytest.raises(ExportError, match=r"cannot read .*t\.parquet as parquet"):
        read_export(path, None, {"a": pl.Int64})
