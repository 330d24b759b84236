"""Optimizer and learning-rate schedule from the config's optim and reg groups."""
from __future__ import annotations

import math
from typing import Any

import torch

from engine.config.groups import Config


def build_optimizer(config: Config, params: Any) -> torch.optim.Optimizer:
    o, wd = config.optim, config.reg.weight_decay
    if o.optimizer == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=wd)
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=wd)
    if o.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=wd)
    if o.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=o.lr, momentum=o.momentum, eps=o.eps, weight_decay=wd)
    return torch.optim.Adagrad(params, lr=o.lr, weight_decay=wd)


def warmup_steps(config: Config, steps_per_epoch: int) -> int:
    """Optimizer steps of linear warm-up: optim.warmup_epochs of them, a fraction rounded up (none with
    onecycle, whose own first phase is its warm-up)."""
    o = config.optim
    if o.scheduler == "onecycle" or o.warmup_epochs <= 0:
        return 0
    return math.ceil(round(o.warmup_epochs * steps_per_epoch, 9))


class LrSchedule:
    """The learning rate of every optimizer step: a linear warm-up, then the scheduler.

    Step k of a warm-up of W steps uses lr * k / W, so the lr reaches optim.lr on step W; from step
    W + 1 the scheduler has it. An epoch-wise scheduler (step, cosine, plateau) steps at the end of
    each epoch that took at least one step after the warm-up, so its epoch 0 is the first such epoch;
    onecycle moves on before every step but the first. Either way the lr an optimizer step uses is set
    before it, so the lr read after an epoch is the one its last step used.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: Any, warmup: int, per_step: bool) -> None:
        self.optimizer, self.scheduler, self.warmup, self.per_step = optimizer, scheduler, warmup, per_step
        self._base = [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]

    def before_step(self, step: int) -> None:
        """Set the lr of global step `step` (counted from 1), before the optimizer takes it."""
        if step <= self.warmup:
            self._scale(step / self.warmup)
        elif self.warmup and step == self.warmup + 1:
            self._scale(1.0)
        elif self.per_step and step > 1:
            self.scheduler.step()

    def after_epoch(self, steps_done: int, val_loss: float) -> None:
        """At the end of an epoch, once its metrics are known (plateau watches val_loss)."""
        if self.scheduler is None or self.per_step or steps_done <= self.warmup:
            return
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(val_loss)
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (the warm-up is a function of the step count, kept by the trial)."""
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict(state)

    def _scale(self, fraction: float) -> None:
        for group, base in zip(self.optimizer.param_groups, self._base):
            group["lr"] = base * fraction


def build_schedule(config: Config, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> LrSchedule:
    o = config.optim
    warmup = warmup_steps(config, steps_per_epoch)
    scheduler: Any = None
    if o.scheduler == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=o.step_size, gamma=o.gamma)
    elif o.scheduler == "cosine":  # over the epochs after the warm-up's whole ones
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, o.max_epochs - warmup // steps_per_epoch))
    elif o.scheduler == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=o.factor,
                                                               patience=o.plateau_patience)
    elif o.scheduler == "onecycle":  # momentum and betas stay as the knobs set them: only the lr cycles
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=o.lr, total_steps=o.max_epochs * steps_per_epoch,
                                                        pct_start=o.pct_start, cycle_momentum=False)
    return LrSchedule(optimizer, scheduler, warmup, per_step=o.scheduler == "onecycle")


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
