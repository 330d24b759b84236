"""Plugins that take their own process down, or fail, for `tunedeck run`'s crash isolation
(tests/cli/test_run_isolation.py). Importing this module says so on stderr, so that a test can tell
that tunedeck named the file before the module's own code ran."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch
from torch import nn

from engine.config.groups import Config
from engine.tasks import toy2d
from engine.tasks.base import TaskData

print("tunedeck_test_exits: top-level code runs", file=sys.stderr, flush=True)


def exit3(config: Config) -> TaskData:
    os._exit(3)


class Segfaulting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        os.kill(os.getpid(), signal.SIGSEGV)
        return self.linear(x)


def segfault(config: Config) -> TaskData:
    data = toy2d.build(config)
    data.model = Segfaulting()
    return data


def raises(config: Config) -> TaskData:
    counter = Path(str(config.task.options["counter"]))
    counter.write_text((counter.read_text() if counter.exists() else "") + "called\n")
    raise RuntimeError("the data is gone")
