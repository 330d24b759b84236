"""How the model is fitted: the optim, reg and early_stop groups (`[optim]`, `[reg]`, `[early_stop]`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config.consistency import is_regression
from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, knob

_ADAM = ("adam", "adamw")


def _may_use_cross_entropy(c: Any) -> bool:
    """The loss is or may be cross-entropy: named, or `auto` on a task that is not binary or a regression
    as far as the config tells (a two-class CSV under `auto` gets bce, and the loss says so when built)."""
    if c.optim.loss != "auto":
        return c.optim.loss == "cross_entropy"
    return not is_regression(c) and c.task.name != "toy2d"


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = knob("adam", "Update rule", CHOICE, choices=("sgd", "adam", "adamw", "rmsprop", "adagrad"))
    lr: float = knob(1e-3, "Learning rate", FLOAT, low=0.0, low_open=True, high=100.0)
    momentum: float = knob(0.0, "Momentum (sgd, rmsprop)", FLOAT, low=0.0, high=0.999999,
                           applies=lambda c: c.optim.optimizer in ("sgd", "rmsprop"))
    nesterov: bool = knob(False, "Nesterov momentum (sgd; needs momentum > 0)", BOOL,
                          applies=lambda c: c.optim.optimizer == "sgd")
    beta1: float = knob(0.9, "Decay rate of Adam's running mean of gradients (adam, adamw)", FLOAT, low=0.0,
                        high=0.999999, applies=lambda c: c.optim.optimizer in _ADAM)
    beta2: float = knob(0.999, "Decay rate of Adam's running mean of squared gradients (adam, adamw)", FLOAT,
                        low=0.0, high=0.999999, applies=lambda c: c.optim.optimizer in _ADAM)
    eps: float = knob(1e-8, "Added to the denominator for numerical stability (adam, adamw, rmsprop)", FLOAT,
                      low=0.0, low_open=True, high=1.0, log=True,
                      applies=lambda c: c.optim.optimizer in (*_ADAM, "rmsprop"))
    scheduler: str = knob("none", "Learning-rate schedule, stepped once per epoch (onecycle: per step, "
                          "rising to lr and falling far below it)", CHOICE,
                          choices=("none", "step", "cosine", "plateau", "onecycle"))
    step_size: int = knob(10, "Epochs between decays (step)", INT, low=1, high=100_000,
                          applies=lambda c: c.optim.scheduler == "step")
    gamma: float = knob(0.1, "Decay factor (step)", FLOAT, low=0.0, low_open=True, high=1.0,
                        applies=lambda c: c.optim.scheduler == "step")
    factor: float = knob(0.5, "Factor the lr is multiplied by on a plateau (plateau)", FLOAT, low=0.0,
                         low_open=True, high=0.999999, applies=lambda c: c.optim.scheduler == "plateau")
    plateau_patience: int = knob(1, "Epochs without val_loss improvement before the lr drops (plateau)", INT,
                                 low=0, high=100_000, applies=lambda c: c.optim.scheduler == "plateau")
    pct_start: float = knob(0.3, "Share of all steps spent raising the lr to optim.lr (onecycle)", FLOAT,
                            low=0.01, high=0.99, applies=lambda c: c.optim.scheduler == "onecycle")
    warmup_epochs: float = knob(0.0, "Epochs of linear lr warm-up, counted in steps (fractions too); then the "
                                "schedule takes over; 0: off (onecycle warms up itself: pct_start)", FLOAT,
                                low=0.0, high=1_000_000.0, applies=lambda c: c.optim.scheduler != "onecycle")
    batch_size: int = knob(64, "Samples per step", INT, low=1, high=10_000_000)
    max_epochs: int = knob(20, "Upper bound on epochs", INT, low=1, high=1_000_000)
    grad_clip: float = knob(0.0, "Clip the gradient norm to this; 0: off", FLOAT, low=0.0, high=1e9)
    loss: str = knob("auto", "auto: bce for 2 classes, cross_entropy for more, mse for regression", CHOICE,
                     choices=("auto", "cross_entropy", "bce_with_logits", "mse", "huber", "l1"))
    class_weights: str = knob("none", "balanced: weight classes by inverse train frequency (classification)",
                              CHOICE, choices=("none", "balanced"))
    label_smoothing: float = knob(0.0, "Cross-entropy targets keep 1 - this and share it among all classes; "
                                  "0: off (cross_entropy only); val and test losses are measured without it", FLOAT, low=0.0, high=0.99,
                                  applies=_may_use_cross_entropy)


@dataclass(frozen=True)
class RegConfig:
    weight_decay: float = knob(0.0, "L2 penalty through the optimizer's weight_decay", FLOAT, low=0.0, high=10.0)
    l1: float = knob(0.0, "L1 penalty on weights (not biases) added to the loss", FLOAT, low=0.0, high=10.0)
    dropout: float = knob(0.0, "Dropout probability after each hidden layer; off at evaluation", FLOAT,
                          low=0.0, high=0.95, applies=lambda c: c.model.kind != "perceptron")


@dataclass(frozen=True)
class EarlyStopConfig:
    patience: int = knob(0, "Stop after this many epochs without improvement; 0: off", INT, low=0,
                         high=1_000_000)
    min_delta: float = knob(0.0, "Smallest change that counts as an improvement", FLOAT, low=0.0, high=1e9)
    monitor: str = knob("val_loss", "Metric watched for improvement (val_acc: classification only)", CHOICE,
                        choices=("val_loss", "val_acc"))
    restore_best: bool = knob(True, "Restore the best epoch's weights before scoring the test split", BOOL)
