"""Rules that involve more than one knob, and the task names they speak of.

Kept apart from the groups so that `engine.config.groups` stays a description of the knobs; each
rule names the key to change.
"""
from __future__ import annotations

from typing import Any

from engine.errors import ConfigError

SCRIPT_TASK = "script"  # the user's own training script, launched with the trial's knobs (engine/ownloop)
BUILTIN_TASKS = ("toy2d", "curve", "text-csv", "table-csv", SCRIPT_TASK)
CSV_TASKS = ("text-csv", "table-csv")


def check_consistency(c: Any) -> None:
    """Rules that involve more than one knob; each names the key to change. `c` is a Config
    (engine.config.groups calls this; typed loosely so that the two modules do not import each other)."""
    if c.task.name in (*CSV_TASKS, SCRIPT_TASK) and not c.task.path:
        raise ConfigError(f"is required for task {c.task.name!r} (set it in the preset or with "
                          f"--set task.path=FILE)", key="task.path", value=c.task.path)
    if c.model.kind == "cnn" and c.task.name in BUILTIN_TASKS and not (
        c.task.name == "text-csv" and c.task.vectorizer == "char-matrix"
    ):
        raise ConfigError(
            "model.kind = 'cnn' needs task.name = 'text-csv' with task.vectorizer = 'char-matrix'",
            key="model.kind", value=c.model.kind,
        )
    if c.task.name == "text-csv" and c.task.vectorizer == "char-matrix" and c.model.kind != "cnn":
        raise ConfigError("task.vectorizer = 'char-matrix' needs model.kind = 'cnn'",
                          key="task.vectorizer", value=c.task.vectorizer)
    if c.optim.nesterov and c.optim.optimizer == "sgd" and c.optim.momentum <= 0:
        raise ConfigError("needs optim.momentum > 0", key="optim.nesterov", value=True)
    regression = c.task.name == "curve" or (c.task.name == "table-csv" and c.task.problem == "regression")
    classification = c.task.name in ("toy2d", "text-csv") or (
        c.task.name == "table-csv" and c.task.problem == "classification")
    if regression and c.optim.loss in ("cross_entropy", "bce_with_logits"):
        raise ConfigError(f"task {c.task.name!r} is a regression; use auto, mse, huber or l1",
                          key="optim.loss", value=c.optim.loss)
    if classification and c.optim.loss in ("mse", "huber", "l1"):
        raise ConfigError(f"task {c.task.name!r} is a classification; use auto, cross_entropy or bce_with_logits",
                          key="optim.loss", value=c.optim.loss)
    if regression and c.early_stop.monitor == "val_acc":
        raise ConfigError("val_acc needs a classification task; use val_loss", key="early_stop.monitor",
                          value="val_acc")
    if c.run.precision != "fp32" and c.run.device in ("cpu", "mps"):
        raise ConfigError(f"mixed precision needs a CUDA device, and run.device is {c.run.device!r}; use fp32",
                          key="run.precision", value=c.run.precision)
