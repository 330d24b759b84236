"""A plugin whose model aborts its own process on the first forward: a trainer crash, for real (SIGABRT,
as a failing C extension would; a SIGKILL from outside counts as an interruption, not a crash)."""
from __future__ import annotations

import os
import signal

import torch
from torch import nn

from engine.config.groups import Config
from engine.tasks import toy2d
from engine.tasks.base import TaskData


class Suicidal(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        os.kill(os.getpid(), signal.SIGABRT)
        return self.linear(x)


def build(config: Config) -> TaskData:
    data = toy2d.build(config)
    data.model = Suicidal()
    return data
