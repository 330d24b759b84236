"""Tiny plugin tasks for the engine tests, each a user's task that works or misbehaves in one way.

Named `package.module:function` in `task.name`; the tests put this folder on `sys.path`.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.config.groups import Config
from engine.tasks.base import REGRESSION, Split, TaskData

WEIGHTS = torch.tensor([[1.0], [-2.0], [0.5]])


def _splits(config: Config) -> tuple[Split, Split, Split]:
    """A noiseless linear regression, sized by task.options.n (default 64)."""
    n = int(config.task.options.get("n", 64))
    gen = torch.Generator().manual_seed(config.run.seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ WEIGHTS
    a, b = int(n * 0.6), int(n * 0.8)
    return Split(x[:a], y[:a]), Split(x[a:b], y[a:b]), Split(x[b:], y[b:])


def linear(config: Config) -> TaskData:
    """A working plugin that brings its own model and loss."""
    train, val, test = _splits(config)
    return TaskData(train, val, test, problem=REGRESSION, input_shape=(3,), model=nn.Linear(3, 1),
                    loss=nn.MSELoss(), info={"n": len(train) + len(val) + len(test)})


class Boom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("boom")


def boom_model(config: Config) -> TaskData:
    """A plugin whose model raises in forward, as a user's buggy model would."""
    train, val, test = _splits(config)
    return TaskData(train, val, test, problem=REGRESSION, input_shape=(3,), model=Boom())


def nan_loss(config: Config) -> TaskData:
    """A plugin whose loss is NaN from the first step."""
    train, val, test = _splits(config)

    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((out - y) ** 2).mean() * float("nan")

    return TaskData(train, val, test, problem=REGRESSION, input_shape=(3,), model=nn.Linear(3, 1), loss=loss)


def not_task_data(config: Config) -> Any:
    """A plugin that returns the pieces in a dict instead of a TaskData."""
    train, val, test = _splits(config)
    return {"train": train, "val": val, "test": test}


not_callable = 42


def global_rng(config: Config) -> TaskData:
    """A plugin that draws its data from torch's global RNG (task.options.n points), model from the config."""
    n = int(config.task.options.get("n", 64))
    x = torch.randn(n, 3)
    y = x @ WEIGHTS
    a, b = int(n * 0.6), int(n * 0.8)
    return TaskData(Split(x[:a], y[:a]), Split(x[a:b], y[a:b]), Split(x[b:], y[b:]), problem=REGRESSION,
                    input_shape=(3,))
