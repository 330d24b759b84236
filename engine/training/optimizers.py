"""Optimizer and learning-rate schedule from the config's optim and reg groups."""
from __future__ import annotations

from typing import Any

import torch

from engine.config.groups import Config


def build_optimizer(config: Config, params: Any) -> torch.optim.Optimizer:
    o, wd = config.optim, config.reg.weight_decay
    if o.optimizer == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=wd)
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=wd)
    if o.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=wd)
    if o.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=o.lr, momentum=o.momentum, weight_decay=wd)
    return torch.optim.Adagrad(params, lr=o.lr, weight_decay=wd)


def build_scheduler(config: Config, optimizer: torch.optim.Optimizer) -> Any:
    """Stepped once per epoch; plateau watches val_loss."""
    o = config.optim
    if o.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=o.step_size, gamma=o.gamma)
    if o.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=o.max_epochs)
    if o.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=o.factor,
                                                          patience=o.plateau_patience)
    return None


def step_scheduler(scheduler: Any, val_loss: float) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    else:
        scheduler.step()


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
