"""Tiny real training runs for the knob tests: a small config from dotted keys, a run that keeps its
setup, and what to read from its events and its model."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.config.groups import Config
from engine.events import EpochEnded, Event, TrialFinished
from engine.tasks.base import TaskData
from engine.training.loop import Setup, prepare, train


def cfg(**dotted: Any) -> Config:
    """A Config from dotted keys; small toy2d on the CPU (also on a GPU box) by default."""
    base = Config.from_dict({"task": {"n_samples": 300}, "optim": {"max_epochs": 3}, "run": {"device": "cpu"}})
    return base.with_updates(dotted)


def fit(config: Config, data: TaskData | None = None) -> tuple[Setup, list[Event]]:
    """Train for real and keep the setup, so the test can look at the trained model."""
    setup = prepare(config, data)
    return setup, list(train(config, setup=setup))


def epochs(events: list[Event]) -> list[EpochEnded]:
    return [e for e in events if isinstance(e, EpochEnded)]


def finished(events: list[Event]) -> TrialFinished:
    last = events[-1]
    assert isinstance(last, TrialFinished)
    return last


def weights(model: nn.Module) -> torch.Tensor:
    """Every weight matrix and kernel (not the biases), flattened."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.dim() > 1])


def params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])
