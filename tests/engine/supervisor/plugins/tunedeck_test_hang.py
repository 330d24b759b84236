"""A plugin task whose training hangs: toy2d with a model that stops answering after a few epochs.

Named `tunedeck_test_hang:build` in `task.name`; the tests make this folder the working directory
of the supervisor, whose trainer children import plugins from there. `task.options.hang_after` is
the number of epochs trained before the hang, and `task.options.marker` a file written (with the
trainer's pid) the moment the hang starts.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch
from torch import nn

from engine.config.groups import Config
from engine.tasks import toy2d
from engine.tasks.base import TaskData

HANG_SECONDS = 60.0  # bounded, so that a trainer nobody ends still goes away by itself


class Hang(nn.Module):
    def __init__(self, after_steps: int, marker: str) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.after_steps = after_steps
        self.marker = marker
        self.steps = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.steps += 1
            if self.steps > self.after_steps:
                Path(self.marker).write_text(f"{os.getpid()}\n")
                time.sleep(HANG_SECONDS)  # a batch that never ends: no cancel can reach it
        return self.linear(x)


def build(config: Config) -> TaskData:
    data = toy2d.build(config)
    options = config.task.options
    steps_per_epoch = math.ceil(len(data.train.x) / config.optim.batch_size)
    data.model = Hang(int(options.get("hang_after", 2)) * steps_per_epoch, str(options["marker"]))
    return data
