"""A plugin task: your own data, your own model, tunedeck's knobs, store and table.

Run it from this folder (the plugin is imported from the working directory):

    cd examples
    tunedeck run spirals.toml
    tunedeck run spirals.toml --set model.hidden=[64,64] --set reg.dropout=0.1

The function gets the validated config and returns a TaskData. It reads whichever knobs it wants
(here model.hidden, model.activation, reg.dropout and its own task.options) and gives DataLoaders,
so any Dataset you already have plugs in the same way.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tunedeck import MULTICLASS, Config, TaskData


def make_spirals(n_per_class: int, turns: float, noise: float, gen: torch.Generator) -> TensorDataset:
    """Two interleaved spirals in the plane, a classic that a linear model cannot separate."""
    t = torch.rand(n_per_class, generator=gen) * turns * 2 * math.pi
    r = t / (turns * 2 * math.pi) * 4
    arms = []
    for label, phase in ((0, 0.0), (1, math.pi)):
        xy = torch.stack([r * torch.cos(t + phase), r * torch.sin(t + phase)], dim=1)
        arms.append((xy + noise * torch.randn(xy.shape, generator=gen), torch.full((n_per_class,), label)))
    x = torch.cat([a[0] for a in arms])
    y = torch.cat([a[1] for a in arms])
    order = torch.randperm(len(y), generator=gen)
    return TensorDataset(x[order], y[order])


class SpiralNet(nn.Module):
    """A model of your own: a residual MLP whose sizes come from tunedeck's knobs."""

    def __init__(self, hidden: tuple[int, ...], activation: str, dropout: float) -> None:
        super().__init__()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU}[activation]
        self.stem = nn.Linear(2, hidden[0])
        self.blocks = nn.ModuleList(
            nn.Sequential(act(), nn.Dropout(dropout), nn.Linear(hidden[0], hidden[0])) for _ in hidden
        )
        self.head = nn.Linear(hidden[0], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)


def build(config: Config) -> TaskData:
    options = config.task.options
    gen = torch.Generator().manual_seed(config.run.seed)
    n = int(options.get("n_per_class", 500))
    turns = float(options.get("turns", 1.5))
    noise = float(options.get("noise", 0.15))
    train, val, test = (make_spirals(k, turns, noise, gen) for k in (n, n // 4, n // 4))
    batch = config.optim.batch_size
    return TaskData(
        train=DataLoader(train, batch_size=batch, shuffle=True, generator=gen),
        val=DataLoader(val, batch_size=1024),
        test=DataLoader(test, batch_size=1024),
        problem=MULTICLASS,
        n_classes=2,
        class_counts=[n, n],
        model=SpiralNet(config.model.hidden, config.model.activation, config.reg.dropout),
        info={"turns": turns},
    )
