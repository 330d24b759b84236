"""tunedeck's public face for user code: what a task of your own receives and returns.

    from tunedeck import Config, TaskData, TaskError, Split, BINARY, MULTICLASS, REGRESSION

what gives a trained model back: `tunedeck.load_model(FILE)` reads what `tunedeck export-model`
wrote and returns the model in eval mode; and what records a training loop of your own as a trial:

    with tunedeck.init(config={"optim.lr": 1e-3, "hidden": 64}) as run:
        run.log(epoch=1, train_loss=0.9, val_loss=0.8)

Names resolve on first use, so `import tunedeck` (and `tunedeck --help`) loads no torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.config.groups import Config
    from engine.errors import TaskError
    from engine.execution.model_export import load_model
    from engine.ownloop.run import Run, init
    from engine.tasks.base import BINARY, MULTICLASS, REGRESSION, Split, TaskData

_WHERE = {
    "Config": "engine.config.groups",
    "TaskData": "engine.tasks.base",
    "Split": "engine.tasks.base",
    "BINARY": "engine.tasks.base",
    "MULTICLASS": "engine.tasks.base",
    "REGRESSION": "engine.tasks.base",
    "TaskError": "engine.errors",
    "load_model": "engine.execution.model_export",
    "init": "engine.ownloop.run",
    "Run": "engine.ownloop.run",
}

__all__ = ["BINARY", "MULTICLASS", "REGRESSION", "Config", "Run", "Split", "TaskData", "TaskError", "init",
           "load_model"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tunedeck' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
