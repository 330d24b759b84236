"""table-csv: classification or regression on numeric columns of a CSV or Parquet file.

Features, and a regression's target, are standardised with the train split's mean and standard
deviation only, so nothing about val or test leaks into training; the statistics go into `info` so a
caller can scale new rows the same way and turn the model's predictions back into the target's units
(prediction * target_std + target_mean). The regression loss is reported in the target's own units
(see `loss_in_target_units`) while its gradients stay those of the standardised problem. Bad data
fails here, before any training, naming file, key and column.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import torch
from torch import nn

from engine.config.groups import Config
from engine.errors import TaskError
from engine.tasks.base import BINARY, MULTICLASS, REGRESSION, Split, TaskData
from engine.tasks.splits import SPLITS, read_table, require_columns, split_labels

MAX_CLASSES_AUTO = 20
CLASSIFICATION = "classification"


def build(config: Config) -> TaskData:
    """Pick features and problem, split, standardise on train, and hand over float32 tensors."""
    task = config.task
    path, target = task.path, task.target_column
    frame = read_table(path)
    keys = {"task.target_column": target}
    if task.split_column:
        keys["task.split_column"] = task.split_column
    require_columns(frame, path, keys)
    features = feature_columns(frame, path, target, task.split_column, task.feature_columns)
    for column, key in [(c, "task.feature_columns") for c in features] + [(target, "task.target_column")]:
        _refuse_missing(frame[column], path, key)

    problem = decide_problem(frame[target], path, task.problem)
    values = frame[target]
    if values.dtype in (pl.Categorical, pl.Enum):
        values = values.cast(pl.Utf8)
    if problem == REGRESSION:
        stratify: list = [0] * frame.height
    else:
        if values.n_unique() < 2:
            raise TaskError(f"{path}: task.target_column: needs at least 2 classes; column {target!r} "
                            f"has only {values[0]!r}")
        stratify = values.to_list()
    splits = pl.Series("split", split_labels(frame, path, task.split_column, stratify, config.run.seed))
    is_train = splits == "train"

    x_all = frame.select(pl.col(features).cast(pl.Float64)).to_torch(dtype=pl.Float64)
    mask = is_train.to_torch().bool()
    x_all, mean, std = _standardise(x_all, mask)

    info: dict[str, Any] = {"file": path, "target": target, "features": features,
                            "feature_mean": mean, "feature_std": std}
    loss = None
    if problem == REGRESSION:
        y_all, y_mean, y_std = _standardise(values.cast(pl.Float64).to_torch(), mask)
        y_all = y_all.reshape(-1, 1)
        info["target_mean"], info["target_std"] = y_mean, y_std
        loss = loss_in_target_units(config.optim.loss, y_std)
        classes: list = []
    else:
        classes = _train_classes(values, splits, path, target)
        y_all = values.replace_strict(classes, range(len(classes)), return_dtype=pl.Int64).to_torch()
        info["classes"] = len(classes)

    def split(name: str) -> Split:
        rows = (splits == name).to_torch().bool()
        return Split(x=x_all[rows], y=y_all[rows])

    train, val, test = (split(name) for name in SPLITS)
    if problem == REGRESSION:
        info["problem"] = REGRESSION
        return TaskData(train=train, val=val, test=test, problem=REGRESSION, input_shape=(len(features),),
                        out_features=1, loss=loss, info=info)
    info["problem"] = BINARY if len(classes) == 2 else MULTICLASS
    return TaskData(
        train=train, val=val, test=test,
        problem=info["problem"],
        input_shape=(len(features),),
        n_classes=len(classes),
        class_counts=torch.bincount(train.y, minlength=len(classes)).tolist(),
        class_names=[str(c) for c in classes],
        info=info,
    )


def _standardise(values: torch.Tensor, train: torch.Tensor) -> tuple[torch.Tensor, Any, Any]:
    """float32 values scaled by the train rows' mean and standard deviation (1 where a column is
    constant), and those statistics as plain numbers (lists for a matrix's columns)."""
    mean = values[train].mean(dim=0)
    std = values[train].std(dim=0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return ((values - mean) / std).float(), mean.tolist(), std.tolist()


# The regression losses, each with the power of the target's scale by which its value grows when the
# target is measured in its own units rather than standardised.
_REGRESSION_LOSSES: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "auto": (nn.MSELoss, 2), "mse": (nn.MSELoss, 2), "huber": (nn.HuberLoss, 2), "l1": (nn.L1Loss, 1)}


def loss_in_target_units(name: str, target_std: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """The configured loss on standardised targets, its value in the target's own units.

    A model fits a standardised target better (its output starts near the right scale, and the
    learning rate means the same whatever the target's units), but a loss of 0.04 on a
    standardised house price says nothing to the person reading the curve. So the loss keeps the
    standardised problem's gradients and reports its value scaled back: MSE as the MSE of the
    un-standardised predictions, L1 as their mean absolute error, Huber as the Huber loss with
    delta = one target standard deviation. Early stopping's min_delta is in those units too.
    None for a classification loss, which the loop refuses for a regression with its own message.
    """
    if name not in _REGRESSION_LOSSES:
        return None
    make, power = _REGRESSION_LOSSES[name]
    base = make()
    rescale = target_std ** power - 1.0

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        value = base(prediction, target)
        return value + value.detach() * rescale  # the value scaled, the gradient untouched

    return loss


def _usable(dtype: pl.DataType) -> bool:
    """Numbers and booleans (as 0/1) can be features; strings, dates and lists cannot."""
    return dtype.is_numeric() or dtype == pl.Boolean


def feature_columns(frame: pl.DataFrame, path: str, target: str, split_column: str,
                    named: tuple[str, ...]) -> list[str]:
    """The named columns, checked; or every numeric column but the target and the split column."""
    key = "task.feature_columns"
    if named:
        seen: set[str] = set()
        for column in named:
            require_columns(frame, path, {key: column})
            if column in seen:
                raise TaskError(f"{path}: {key}: column {column!r} is listed twice")
            if column == target:
                raise TaskError(f"{path}: {key}: column {column!r} is the target (task.target_column); "
                                f"a model must not see what it predicts")
            if column == split_column:
                raise TaskError(f"{path}: {key}: column {column!r} is the split column (task.split_column)")
            if not _usable(frame.schema[column]):
                raise TaskError(f"{path}: {key}: column {column!r} has dtype {frame.schema[column]}, "
                                f"not numeric; encode it as numbers or leave it out")
            seen.add(column)
        return list(named)
    features = [c for c, dtype in frame.schema.items() if c not in (target, split_column) and _usable(dtype)]
    if not features:
        others = ", ".join(f"{c} ({d})" for c, d in frame.schema.items() if c not in (target, split_column))
        raise TaskError(f"{path}: {key}: no numeric feature columns besides the target {target!r}; "
                        f"other columns are {others or 'none'}")
    return features


def _refuse_missing(column: pl.Series, path: str, key: str) -> None:
    missing = column.null_count()
    if column.dtype.is_float():
        missing += int(column.is_nan().sum() or 0)
    if missing:
        raise TaskError(f"{path}: {key}: column {column.name!r} has {missing} missing values (null or NaN) "
                        f"in {column.len()} rows; fill or drop those rows")


def decide_problem(target: pl.Series, path: str, asked: str) -> str:
    """classification or regression: as asked, or for auto, labels (strings, booleans, up to 20
    distinct integers) classify and other numbers regress."""
    dtype = target.dtype
    key = "task.target_column"
    labelled = dtype in (pl.Utf8, pl.Categorical, pl.Enum, pl.Boolean)
    if not (labelled or dtype.is_numeric()):
        raise TaskError(f"{path}: {key}: column {target.name!r} has dtype {dtype}; the target must hold "
                        f"numbers or labels")
    if asked == "regression":
        if not dtype.is_numeric():
            raise TaskError(f"{path}: task.problem: regression needs a numeric target; column "
                            f"{target.name!r} has dtype {dtype}")
        return REGRESSION
    if asked == CLASSIFICATION or labelled:
        return CLASSIFICATION
    if dtype.is_integer() and target.n_unique() <= MAX_CLASSES_AUTO:
        return CLASSIFICATION
    return REGRESSION


def _train_classes(values: pl.Series, splits: pl.Series, path: str, target: str) -> list:
    """Classes in their natural sort order, from train; labels seen only in val/test are errors."""
    classes = values.filter(splits == "train").unique().sort().to_list()
    known = set(classes)
    for name in SPLITS[1:]:
        unseen = sorted(set(values.filter(splits == name).unique().to_list()) - known, key=str)
        if unseen:
            shown = ", ".join(repr(u) for u in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
            raise TaskError(f"{path}: task.target_column: the {name} split has value(s) {shown} in column "
                            f"{target!r} that the train split never has; the model could not predict them")
    return classes
