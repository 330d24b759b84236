"""Noisy samples of a smooth 1-D function: regression where weight decay visibly smooths the fit.

With few samples and a wide MLP the fit chases the noise; an L2 sweep shows the trade-off.
"""
from __future__ import annotations

import math

import torch

from engine.config.groups import Config
from engine.tasks.base import REGRESSION, Split, TaskData

X_RANGE = (-3.0, 3.0)


def target(x: torch.Tensor) -> torch.Tensor:
    """The smooth function the noise is added to."""
    return torch.sin(1.5 * x) + 0.3 * x


def build(config: Config) -> TaskData:
    n = config.task.n_samples
    gen = torch.Generator().manual_seed(config.run.seed)
    low, high = X_RANGE
    x = low + (high - low) * torch.rand(n, 1, generator=gen)
    y = target(x) + config.task.noise * torch.randn(n, 1, generator=gen)
    n_train, n_val = int(n * 0.7), int(n * 0.15)
    scale = 1.0 / math.sqrt((high - low) ** 2 / 12.0)  # unit variance inputs
    x = x * scale
    return TaskData(
        Split(x[:n_train], y[:n_train]),
        Split(x[n_train:n_train + n_val], y[n_train:n_train + n_val]),
        Split(x[n_train + n_val:], y[n_train + n_val:]),
        problem=REGRESSION, input_shape=(1,), out_features=1,
        info={"function": "sin(1.5x) + 0.3x", "noise": config.task.noise},
    )
