"""What a task hands the training loop: splits, the kind of problem, and optionally its own model.

Built-in tasks return tensors; a plugin may return tensors or any iterables of (x, y) batches
such as DataLoaders, and may bring its own model and loss.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

BINARY = "binary"
MULTICLASS = "multiclass"
REGRESSION = "regression"
PROBLEMS = (BINARY, MULTICLASS, REGRESSION)


@dataclass
class Split:
    """Features and targets of one split, held as tensors in memory."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class TaskData:
    """Everything the loop needs from a task.

    `train`, `val`, `test`: a Split (batched and shuffled by the loop, seeded) or any re-iterable
    of (x, y) batches. `problem`: binary (targets 0/1), multiclass (targets class indices) or
    regression (float targets). `model` and `loss` are optional; without them the loop builds
    them from the config's model and optim groups.
    """

    train: Split | Batches
    val: Split | Batches
    test: Split | Batches
    problem: str
    input_shape: tuple[int, ...] = ()
    n_classes: int = 0
    out_features: int = 1  # regression targets per sample
    class_counts: list[int] | None = None  # per class, in the train split
    class_names: list[str] = field(default_factory=list)
    model: torch.nn.Module | None = None
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"TaskData.problem must be one of {', '.join(PROBLEMS)}, got {self.problem!r}")

    @property
    def is_classification(self) -> bool:
        return self.problem != REGRESSION


def split_sizes(data: TaskData) -> tuple[int, int, int]:
    """Sample counts per split, or -1 where a plugin gave batches of unknown length."""

    def size(s: Any) -> int:
        if isinstance(s, Split):
            return len(s)
        dataset = getattr(s, "dataset", None)
        try:
            return len(dataset) if dataset is not None else -1
        except TypeError:
            return -1

    return size(data.train), size(data.val), size(data.test)
