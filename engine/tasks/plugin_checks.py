"""A plugin's data checked against what the loop will do with it, before the first step.

A regression target of shape (N,) against a model's (N, 1) output trains without an error (MSE
broadcasts the two to (N, N), with only a warning) and learns the mean; a class index outside
`n_classes` raises deep inside the loss mid-epoch on a CPU, and on a GPU poisons the process with a
device-side assert. Both are refused here with the plugin's file, the split, the rule and what was
given. Tensor splits are checked whole, once (a min and a max per split); a plugin's own batches (a
DataLoader) are checked batch by batch through their first pass, before they reach the device (a min
and a max per batch), and go unchecked after it.

What is left to the plugin: a target's shape when it brings its own loss; a regression target's shape
against its own model's output, which the loss compares at every step (engine.training.losses).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from engine.errors import TaskError
from engine.tasks.base import BINARY, MULTICLASS, REGRESSION, Split, TaskData

SPLITS = ("train", "val", "test")
IGNORED = -100  # CrossEntropyLoss's ignore_index: a target that counts for nothing, not a bad class


def check_data(data: TaskData, where: str) -> None:
    """Raise TaskError naming `where` (the plugin's file and name) for data the loop cannot train on.

    Tensor splits are checked now; batch iterables are wrapped so that each batch is checked as it
    is drawn.
    """
    if data.problem == MULTICLASS and data.n_classes < 2 and data.model is None:
        raise TaskError(f"{where}: TaskData.n_classes must be at least 2 for a multiclass task whose model "
                        f"tunedeck builds, got n_classes={data.n_classes}")
    for name in SPLITS:
        split = getattr(data, name)
        if isinstance(split, Split):
            _check_batch(data, where, f"TaskData.{name}", split.x, split.y)
        else:
            setattr(data, name, CheckedBatches(split, _batch_check(data, where, f"a batch of TaskData.{name}")))


def _batch_check(data: TaskData, where: str, what: str) -> Callable[[torch.Tensor, torch.Tensor], None]:
    def check(x: torch.Tensor, y: torch.Tensor) -> None:
        _check_batch(data, where, what, x, y)

    return check


class CheckedBatches:
    """A plugin's re-iterable of (x, y) batches whose first full pass is checked batch by batch as it is
    drawn (later passes go through unchecked: the same data); len and .dataset are the wrapped object's."""

    def __init__(self, batches: Any, check: Callable[[torch.Tensor, torch.Tensor], None]) -> None:
        self.batches = batches
        self._check: Callable[[torch.Tensor, torch.Tensor], None] | None = check

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        check = self._check
        if check is None:
            yield from self.batches
            return
        for batch in self.batches:
            x, y = batch
            check(x, y)
            yield x, y
        self._check = None

    def __len__(self) -> int:
        return len(self.batches)

    def __getattr__(self, name: str) -> Any:
        if name in ("batches", "_check"):  # not yet set (unpickling, copying): never recurse
            raise AttributeError(name)
        return getattr(self.batches, name)


def _check_batch(data: TaskData, where: str, what: str, x: Any, y: Any) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TaskError(f"{where}: {what} must be (x, y) tensors, got ({type(x).__name__}, {type(y).__name__})")
    if y.dim() == 0 or x.dim() == 0 or x.shape[0] != y.shape[0]:
        raise TaskError(f"{where}: {what}: x and y must hold the same number of samples (first dimension), "
                        f"got x of shape {_shape(x)} and y of shape {_shape(y)}")
    if data.problem == REGRESSION:
        _check_regression(data, where, what, y)
    else:
        _check_labels(data, where, what, y)


def _check_regression(data: TaskData, where: str, what: str, y: torch.Tensor) -> None:
    if data.loss is not None:
        return  # the plugin's own loss takes its targets as they come
    if not y.is_floating_point():
        raise TaskError(f"{where}: {what}.y: regression targets must be floats, got dtype {y.dtype} "
                        f"(return y.float())")
    if data.model is not None:
        return  # the plugin's own model decides the output's shape; the loss compares the two (losses.py)
    wanted = (int(y.shape[0]), data.out_features)
    if tuple(y.shape) != wanted:
        hint = " (return y.reshape(-1, 1) or y.unsqueeze(1))" if y.dim() == 1 and data.out_features == 1 else ""
        raise TaskError(f"{where}: {what}.y: a regression target must have shape (N, out_features) = {wanted} "
                        f"like the model's output, got {_shape(y)}{hint}")


def _check_labels(data: TaskData, where: str, what: str, y: torch.Tensor) -> None:
    if not (y.dim() == 1 or (y.dim() == 2 and y.shape[1] == 1)):
        raise TaskError(f"{where}: {what}.y: class targets must be one class index per sample, shape (N,), "
                        f"got {_shape(y)}")
    if y.numel() == 0:
        return
    labels = y.detach()
    if data.problem == BINARY:
        low, high = (v.item() for v in torch.aminmax(labels.float()))
        if low < 0 or high > 1:
            raise TaskError(f"{where}: {what}.y: binary targets must be 0 or 1, got values from "
                            f"{_number(low)} to {_number(high)}")
        return
    if data.loss is None and labels.is_floating_point():
        raise TaskError(f"{where}: {what}.y: class indices must be integers (torch.long), got dtype {y.dtype} "
                        f"(return y.long())")
    if labels.is_floating_point() and (labels != labels.round()).any().item():
        raise TaskError(f"{where}: {what}.y: class indices must be whole numbers, got "
                        f"{_number(labels[labels != labels.round()][0].item())}")
    counted = labels[labels != IGNORED] if (labels == IGNORED).any().item() else labels
    if counted.numel() == 0:
        return
    low, high = (v.item() for v in torch.aminmax(counted))
    if low < 0 or (data.n_classes >= 2 and high >= data.n_classes):
        rule = (f"lie in 0..{data.n_classes - 1} (n_classes={data.n_classes})" if data.n_classes >= 2
                else "be at least 0")
        raise TaskError(f"{where}: {what}.y: class indices must {rule}, got values from {_number(low)} "
                        f"to {_number(high)}")


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ("," if t.dim() == 1 else "") + ")"


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
