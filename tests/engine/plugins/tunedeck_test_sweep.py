"""Plugin tasks for the sweep and placement tests: toy2d, with one twist each.

Named `tunedeck_test_sweep:<function>` in `task.name`; the tests put this folder on `sys.path` (a
thread executor) or make it the working directory (a process executor's children import from there).
"""
from __future__ import annotations

import os
import threading

import torch
from torch import nn

from engine.config.groups import Config
from engine.tasks import toy2d
from engine.tasks.base import TaskData

BAD_LR = 0.02


def refuses_one_lr(config: Config) -> TaskData:
    """toy2d, except that one learning rate raises, as a user's task with a bug for one setting would."""
    if config.optim.lr == BAD_LR:
        raise ValueError(f"this task cannot train at lr {config.optim.lr}")
    return toy2d.build(config)


def reports_its_gpu(config: Config) -> TaskData:
    """toy2d, recording the CUDA_VISIBLE_DEVICES the trainer process sees in the trial's run info."""
    data = toy2d.build(config)
    data.info = {**data.info, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
                 "pid": os.getpid()}
    return data


STALLED = threading.Event()  # set when a `stalls` trial is stuck in its first batch
RELEASE = threading.Event()  # set by the test to let it go on
STALL_SECONDS = 20.0  # the most a stuck batch waits, should a test fail before releasing it


class Stall(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        STALLED.set()
        RELEASE.wait(STALL_SECONDS)
        return self.linear(x)


def stalls(config: Config) -> TaskData:
    """toy2d with a model whose forward pass blocks until the test releases it: a trial that cannot stop
    within a batch (run in this process: the thread executor)."""
    data = toy2d.build(config)
    data.model = Stall()
    return data
