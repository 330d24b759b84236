from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import torch

from engine.config.groups import Config
from engine.errors import TaskError
from engine.tasks import table_csv
from engine.tasks.base import BINARY, MULTICLASS, REGRESSION


def config(path: str, seed: int = 0, **task: object) -> Config:
    return Config.from_dict({"task": {"name": "table-csv", "path": path, **task}, "run": {"seed": seed}})


def save(tmp_path: Path, frame: pl.DataFrame, name: str = "table.csv") -> str:
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    return str(path)


def regression_frame() -> pl.DataFrame:
    n = 20
    return pl.DataFrame({
        "a": [float(i) for i in range(n)],
        "b": [i % 4 for i in range(n)],
        "name": [f"row{i}" for i in range(n)],
        "target": [0.5 * i + 0.01 * i * i for i in range(n)],
        "split": ["train"] * 12 + ["val"] * 4 + ["test"] * 4,
    })


def test_standardises_with_train_stats_only(tmp_path: Path) -> None:
    path = save(tmp_path, regression_frame())
    data = table_csv.build(config(path, split_column="split"))
    assert data.problem == REGRESSION and data.out_features == 1
    assert data.info["features"] == ["a", "b"] and data.info["target"] == "target"
    assert data.input_shape == (2,) and data.train.x.dtype == torch.float32
    assert torch.allclose(data.train.x.mean(dim=0), torch.zeros(2), atol=1e-6)
    assert torch.allclose(data.train.x.std(dim=0, correction=0), torch.ones(2), atol=1e-5)
    assert data.test.x[:, 0].mean() > 1.0  # test rows lie beyond train's range of "a"
    assert data.train.y.shape == (12, 1) and data.train.y.dtype == torch.float32
    raw = [0.5 * i + 0.01 * i * i for i in range(20)]
    mean = sum(raw[:12]) / 12  # the target is standardised on train too (tests/engine/tasks/test_table_csv_target.py)
    std = (sum((v - mean) ** 2 for v in raw[:12]) / 12) ** 0.5
    assert data.test.y[0, 0].item() == pytest.approx((raw[16] - mean) / std, rel=1e-5)
    assert data.info["feature_mean"][0] == pytest.approx(5.5)


def test_constant_feature_does_not_divide_by_zero(tmp_path: Path) -> None:
    frame = regression_frame().with_columns(c=pl.lit(3.0))
    data = table_csv.build(config(save(tmp_path, frame), split_column="split", feature_columns=["a", "c"]))
    assert torch.equal(data.train.x[:, 1], torch.zeros(12))
    assert data.info["feature_std"][1] == 1.0


def test_parquet_input_and_seeded_regression_split(tmp_path: Path) -> None:
    frame = regression_frame().drop("split")
    path = save(tmp_path, frame, "table.parquet")
    a = table_csv.build(config(path, seed=5))
    b = table_csv.build(config(path, seed=5))
    assert (len(a.train), len(a.val), len(a.test)) == (14, 3, 3)
    assert torch.equal(a.train.y, b.train.y)


@pytest.mark.parametrize(("target", "problem", "expected"), [
    (["x", "y", "z", "x"] * 5, "auto", MULTICLASS),
    ([True, False] * 10, "auto", BINARY),
    ([i % 3 for i in range(20)], "auto", MULTICLASS),
    ([i * 7 for i in range(30)], "auto", REGRESSION),  # 30 distinct integers
    ([i / 3 for i in range(20)], "auto", REGRESSION),
    ([i % 3 for i in range(20)], "regression", REGRESSION),
    ([float(i % 2) for i in range(20)], "classification", BINARY),
])
def test_problem_detection(tmp_path: Path, target: list, problem: str, expected: str) -> None:
    frame = pl.DataFrame({"f": [float(i) for i in range(len(target))], "y": target})
    data = table_csv.build(config(save(tmp_path, frame), target_column="y", problem=problem))
    assert data.problem == expected
    if expected == REGRESSION:
        assert data.train.y.dtype == torch.float32 and data.train.y.shape[1] == 1
    else:
        assert data.train.y.dtype == torch.int64
        assert sum(data.class_counts) == len(data.train)


def test_classification_classes_sorted_from_train(tmp_path: Path) -> None:
    frame = pl.DataFrame({"f": [float(i) for i in range(40)], "g": [1] * 40,
                          "y": [10, 2, 33, 2] * 10})
    data = table_csv.build(config(save(tmp_path, frame), target_column="y", feature_columns=["f"]))
    assert data.class_names == ["2", "10", "33"] and data.n_classes == 3
    assert data.info["features"] == ["f"]


def test_bool_feature_and_auto_features_skip_strings(tmp_path: Path) -> None:
    frame = pl.DataFrame({"flag": [True, False] * 10, "txt": ["a"] * 20, "y": [float(i) for i in range(20)]})
    data = table_csv.build(config(save(tmp_path, frame), target_column="y"))
    assert data.info["features"] == ["flag"]


def test_non_numeric_feature(tmp_path: Path) -> None:
    path = save(tmp_path, regression_frame())
    with pytest.raises(TaskError, match=r"table\.csv: task\.feature_columns: column 'name' has dtype Str"):
        table_csv.build(config(path, feature_columns=["a", "name"]))


def test_missing_feature_and_target_columns(tmp_path: Path) -> None:
    path = save(tmp_path, regression_frame())
    with pytest.raises(TaskError, match=r"task\.feature_columns: column 'zz' not found; columns are a, b"):
        table_csv.build(config(path, feature_columns=["a", "zz"]))
    with pytest.raises(TaskError, match=r"task\.target_column: column 'y' not found"):
        table_csv.build(config(path, target_column="y"))
    with pytest.raises(TaskError, match=r"task\.feature_columns: column 'target' is the target"):
        table_csv.build(config(path, feature_columns=["target"]))


def test_no_numeric_features(tmp_path: Path) -> None:
    frame = pl.DataFrame({"txt": ["a", "b"] * 10, "y": [1.0, 2.0] * 10})
    with pytest.raises(TaskError, match=r"task\.feature_columns: no numeric feature columns .* txt \(Str"):
        table_csv.build(config(save(tmp_path, frame), target_column="y"))


def test_nulls_and_nans(tmp_path: Path) -> None:
    frame = regression_frame().with_columns(
        a=pl.when(pl.int_range(20) < 3).then(None).otherwise(pl.col("a")))
    with pytest.raises(TaskError, match=r"task\.feature_columns: column 'a' has 3 missing values"):
        table_csv.build(config(save(tmp_path, frame)))
    frame = regression_frame().with_columns(
        target=pl.when(pl.int_range(20) == 0).then(float("nan")).otherwise(pl.col("target")))
    with pytest.raises(TaskError, match=r"task\.target_column: column 'target' has 1 missing values"):
        table_csv.build(config(save(tmp_path, frame, "t.parquet")))


def test_single_class_and_unseen_class(tmp_path: Path) -> None:
    frame = pl.DataFrame({"f": [1.0, 2.0, 3.0, 4.0], "y": ["a"] * 4, "split": ["train", "train", "val", "test"]})
    with pytest.raises(TaskError, match=r"needs at least 2 classes; column 'y' has only 'a'"):
        table_csv.build(config(save(tmp_path, frame), target_column="y", split_column="split"))
    frame = frame.with_columns(y=pl.Series(["a", "b", "c", "a"]))
    with pytest.raises(TaskError, match=r"the val split has value\(s\) 'c' in column 'y'"):
        table_csv.build(config(save(tmp_path, frame), target_column="y", split_column="split"))


def test_regression_needs_numeric_target(tmp_path: Path) -> None:
    frame = pl.DataFrame({"f": [1.0, 2.0] * 10, "y": ["a", "b"] * 10})
    with pytest.raises(TaskError, match=r"task\.problem: regression needs a numeric target"):
        table_csv.build(config(save(tmp_path, frame), target_column="y", problem="regression"))
