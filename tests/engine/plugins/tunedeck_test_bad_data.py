"""Plugin tasks whose data the loop cannot train on, each wrong in one way a user's plugin often is.

Named `tunedeck_test_bad_data:<function>` in `task.name`; the tests put this folder on `sys.path`.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from engine.config.groups import Config
from engine.tasks.base import MULTICLASS, REGRESSION, Split, TaskData

N = 60


def _features() -> torch.Tensor:
    return torch.randn(N, 3, generator=torch.Generator().manual_seed(0))


def _splits(x: torch.Tensor, y: torch.Tensor) -> tuple[Split, Split, Split]:
    return Split(x[:36], y[:36]), Split(x[36:48], y[36:48]), Split(x[48:], y[48:])


def flat_target(config: Config) -> TaskData:
    """Regression with a target of shape (N,): tunedeck's model gives (N, 1)."""
    x = _features()
    return TaskData(*_splits(x, x.sum(dim=1)), problem=REGRESSION, input_shape=(3,))


def column_target(config: Config) -> TaskData:
    """The same regression done right: a target of shape (N, 1)."""
    x = _features()
    return TaskData(*_splits(x, x.sum(dim=1, keepdim=True)), problem=REGRESSION, input_shape=(3,))


def flat_target_own_model(config: Config) -> TaskData:
    """Its own model gives (N, 1) and its target is (N,), with tunedeck's MSE."""
    x = _features()
    return TaskData(*_splits(x, x.sum(dim=1)), problem=REGRESSION, input_shape=(3,), model=nn.Linear(3, 1))


def flat_target_flat_model(config: Config) -> TaskData:
    """Its own model gives (N,) and so does its target: nothing to refuse."""
    x = _features()
    return TaskData(*_splits(x, x.sum(dim=1)), problem=REGRESSION, input_shape=(3,),
                    model=nn.Sequential(nn.Linear(3, 1), nn.Flatten(0)))


def _labels() -> torch.Tensor:
    return torch.arange(N) % 3  # 0, 1, 2


def label_past_n_classes(config: Config) -> TaskData:
    """Labels 0..3 (a 3 in the val split only) but n_classes = 3."""
    y = _labels()
    y[40] = 3
    return TaskData(*_splits(_features(), y), problem=MULTICLASS, n_classes=3, input_shape=(3,))


def negative_label(config: Config) -> TaskData:
    y = _labels()
    y[5] = -1
    return TaskData(*_splits(_features(), y), problem=MULTICLASS, n_classes=3, input_shape=(3,))


def ignored_label(config: Config) -> TaskData:
    """-100 is CrossEntropyLoss's ignore_index: a valid target that counts for nothing."""
    y = _labels()
    y[5] = -100
    return TaskData(*_splits(_features(), y), problem=MULTICLASS, n_classes=3, input_shape=(3,))


def float_labels(config: Config) -> TaskData:
    return TaskData(*_splits(_features(), _labels().float()), problem=MULTICLASS, n_classes=3, input_shape=(3,))


def loader_label_past_n_classes(config: Config) -> TaskData:
    """DataLoaders whose third train batch holds a label 7 with n_classes = 3."""
    x, y = _features(), _labels()
    y[25] = 7

    def loader(a: int, b: int) -> DataLoader:
        return DataLoader(TensorDataset(x[a:b], y[a:b]), batch_size=10)

    return TaskData(loader(0, 36), loader(36, 48), loader(48, N), problem=MULTICLASS, n_classes=3,
                    input_shape=(3,))


def loader_labels_ok(config: Config) -> TaskData:
    x, y = _features(), _labels()

    def loader(a: int, b: int) -> DataLoader:
        return DataLoader(TensorDataset(x[a:b], y[a:b]), batch_size=10)

    return TaskData(loader(0, 36), loader(36, 48), loader(48, N), problem=MULTICLASS, n_classes=3,
                    input_shape=(3,))


def binary_label_two(config: Config) -> TaskData:
    y = (_labels() > 0).long()
    y[50] = 2
    return TaskData(*_splits(_features(), y), problem="binary", n_classes=2, input_shape=(3,))
