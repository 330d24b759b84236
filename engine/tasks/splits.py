"""Reading the user's table and dividing it into train/val/test, shared by the CSV tasks."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import torch

from engine.errors import TaskError

SPLITS = ("train", "val", "test")


def read_table(path: str) -> pl.DataFrame:
    """A CSV or Parquet file as a frame, or a TaskError naming the file and what is wrong."""
    p = Path(path).expanduser()
    if not p.exists():
        raise TaskError(f"{path}: task.path: file not found (working directory {Path.cwd()})")
    if p.is_dir():
        raise TaskError(f"{path}: task.path: is a directory, expected a CSV or Parquet file")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(p)
        else:
            frame = pl.read_csv(p, infer_schema_length=10_000)
    except Exception as exc:  # polars raises several types; the user needs the file and the reason
        raise TaskError(f"{path}: cannot be read as {'Parquet' if p.suffix.lower() in ('.parquet', '.pq') else 'CSV'}: "
                        f"{str(exc).splitlines()[0]}") from None
    if frame.height == 0:
        raise TaskError(f"{path}: has a header but no rows")
    return frame


def require_columns(frame: pl.DataFrame, path: str, key_columns: dict[str, str]) -> None:
    """Each (config key -> column name) must exist; name the key, the column and what exists."""
    for key, column in key_columns.items():
        if column not in frame.columns:
            raise TaskError(f"{path}: {key}: column {column!r} not found; columns are {', '.join(frame.columns)}")


def split_labels(frame: pl.DataFrame, path: str, split_column: str, stratify: list, seed: int) -> list[str]:
    """One of train/val/test per row: from `split_column` when given, else seeded 70/15/15 by class.

    `stratify` holds one hashable per row (the label; for regression pass a constant) so that each
    class is divided in the same proportions, as the book's surname munging does: train and val
    sizes are rounded down and the rest goes to test, except that every class keeps at least one
    train row.
    """
    if split_column:
        column = frame[split_column].cast(pl.Utf8).str.strip_chars().str.to_lowercase()
        if column.null_count():
            raise TaskError(f"{path}: task.split_column: column {split_column!r} has {column.null_count()} empty "
                            f"values; each row needs train, val or test")
        values = column.to_list()
        bad = sorted({str(v) for v in values if v not in SPLITS})
        if bad:
            raise TaskError(f"{path}: task.split_column: column {split_column!r} may hold only train, val, test; "
                            f"found {', '.join(repr(b) for b in bad[:5])}")
        splits = values
    else:
        splits = [""] * frame.height
        gen = torch.Generator().manual_seed(seed)
        by_class: dict = {}
        for i, label in enumerate(stratify):
            by_class.setdefault(label, []).append(i)
        for label in sorted(by_class, key=str):
            rows = by_class[label]
            order = torch.randperm(len(rows), generator=gen).tolist()
            n_train = max(1, int(len(rows) * 0.70))  # a class absent from train could never be learned
            n_val = int(len(rows) * 0.15)
            for rank, j in enumerate(order):
                splits[rows[j]] = "train" if rank < n_train else ("val" if rank < n_train + n_val else "test")
    for name in SPLITS:
        if name not in splits:
            how = f"column {split_column!r} has no {name!r} rows" if split_column else \
                f"too few rows ({frame.height}) to give the {name} split any"
            raise TaskError(f"{path}: the {name} split is empty: {how}")
    return splits
