"""Loss functions and accuracy, matched to the task's problem and the config's class weights."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from engine.config.groups import Config, is_plugin
from engine.errors import ConfigError, TaskError
from engine.tasks.base import BINARY, REGRESSION, TaskData

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def resolve_loss_name(config: Config, data: TaskData) -> str:
    """The loss `auto` stands for, checked against the problem (a plugin can be either kind)."""
    name = config.optim.loss
    if name == "auto":
        return {BINARY: "bce_with_logits", REGRESSION: "mse"}.get(data.problem, "cross_entropy")
    if data.problem == REGRESSION and name in ("cross_entropy", "bce_with_logits"):
        raise ConfigError("the task is a regression; use auto, mse, huber or l1", key="optim.loss", value=name)
    if data.problem != REGRESSION and name in ("mse", "huber", "l1"):
        raise ConfigError("the task is a classification; use auto, cross_entropy or bce_with_logits",
                          key="optim.loss", value=name)
    if name == "bce_with_logits" and data.problem != BINARY:
        raise ConfigError(f"needs two classes, the task has {data.n_classes}; use cross_entropy",
                          key="optim.loss", value=name)
    return name


def class_weights(data: TaskData) -> torch.Tensor:
    """Inverse train frequency per class, as the book's surname classifier weighs its loss."""
    counts = torch.tensor(data.class_counts or [], dtype=torch.float32)
    if counts.numel() == 0:
        raise ConfigError("needs class counts from the task (a plugin must set TaskData.class_counts)",
                          key="optim.class_weights", value="balanced")
    return 1.0 / counts.clamp(min=1.0)


def build_loss(config: Config, data: TaskData, name: str, device: torch.device, smoothed: bool = True) -> LossFn:
    """A function (logits, targets) -> mean loss; targets are class indices or float values.

    `smoothed=False` gives the same loss without label smoothing: val and test losses are measured so,
    so that trials with different smoothing are on one scale."""
    smoothing = config.optim.label_smoothing
    if smoothing > 0 and (data.loss is not None or name != "cross_entropy"):
        loss = "the task's own loss" if data.loss is not None else f"the loss is {name}"
        raise ConfigError(f"smooths cross-entropy targets only, and {loss}; set it to 0"
                          + ("" if data.loss is not None or data.problem == REGRESSION
                             else " or optim.loss = 'cross_entropy'"), key="optim.label_smoothing", value=smoothing)
    if data.loss is not None:
        return data.loss
    balanced = config.optim.class_weights == "balanced" and data.problem != REGRESSION
    if name == "cross_entropy":
        weight = class_weights(data).to(device) if balanced else None
        if smoothing > 0 and smoothed:
            return smoothed_cross_entropy(weight, smoothing)
        return nn.CrossEntropyLoss(weight=weight)
    if name == "bce_with_logits":
        pos_weight = None
        if balanced:
            w = class_weights(data)
            pos_weight = (w[1] / w[0]).reshape(1).to(device)
        bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        return lambda logits, y: bce(logits.reshape(-1), y.float().reshape(-1))
    return _same_shape({"mse": nn.MSELoss(), "huber": nn.HuberLoss(), "l1": nn.L1Loss()}[name], config)


def smoothed_cross_entropy(weight: torch.Tensor | None, eps: float) -> LossFn:
    """Cross-entropy against targets smoothed to (1 - eps) on the true class plus eps/K on every class,
    where each sample counts by its true class's weight alone: torch's `label_smoothing` weighs the
    smoothed share by each other class's weight, which with balanced weights pulls every prediction
    towards the rare classes. Here the optimum is that smoothed distribution whatever the weights."""
    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(logits.float(), dim=-1)
        target = y.reshape(-1).long()
        per_sample = -(1.0 - eps) * log_p.gather(-1, target[:, None]).squeeze(-1) - eps * log_p.mean(dim=-1)
        if weight is None:
            return per_sample.mean()
        w = weight[target]
        return (w * per_sample).sum() / w.sum()

    return loss


def _same_shape(loss: LossFn, config: Config) -> LossFn:
    """A regression loss that refuses an output and a target of different shapes, which torch would
    broadcast ((N, 1) against (N,) makes (N, N)) and train on with only a warning."""
    def checked(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.shape != target.shape:
            raise TaskError(f"{_task_named(config)}: the model's output has shape {tuple(output.shape)} and the "
                            f"regression target {tuple(target.shape)}; they must match (optim.loss = "
                            f"{config.optim.loss!r} compares them element by element)")
        return loss(output, target)

    return checked


def _task_named(config: Config) -> str:
    if is_plugin(config.task.name):
        from engine.tasks.plugin import plugin_label

        return plugin_label(config.task.name)
    return f"task {config.task_label}"


def correct_count(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How many predictions match the class targets (one logit: positive means class 1)."""
    if logits.dim() == 1 or logits.shape[-1] == 1:
        predicted = (logits.reshape(-1) > 0).long()
    else:
        predicted = logits.argmax(dim=-1)
    return (predicted == y.reshape(-1).long()).sum()


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of |w| over weight matrices and kernels; biases and norms are not penalised."""
    terms = [p.abs().sum() for p in model.parameters() if p.requires_grad and p.dim() > 1]
    return torch.stack(terms).sum() if terms else torch.zeros(())
