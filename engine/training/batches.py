"""Batching: seeded shuffling over in-memory splits, or a plugin's own iterables of batches."""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from engine.tasks.base import Split


def to_device(split: Any, device: torch.device) -> Any:
    """Tensors move once, up front; a plugin's loaders move per batch in iter_batches."""
    if isinstance(split, Split):
        return Split(split.x.to(device), split.y.to(device))
    return split


def count_batches(split: Any, batch_size: int) -> int:
    if isinstance(split, Split):
        return max(1, math.ceil(len(split) / batch_size))
    try:
        return max(1, len(split))
    except TypeError:
        return 1


def iter_batches(split: Any, batch_size: int, gen: torch.Generator | None,
                 device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of (x, y) on `device`; shuffled with `gen` when given (train), in order otherwise."""
    if isinstance(split, Split):
        n = len(split)
        order = torch.randperm(n, generator=gen).to(split.x.device) if gen is not None else None
        for start in range(0, n, batch_size):
            if order is None:
                yield split.x[start:start + batch_size], split.y[start:start + batch_size]
            else:
                index = order[start:start + batch_size]
                yield split.x[index], split.y[index]
        return
    for x, y in split:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)
