"""How the model is fitted: the optim, reg and early_stop groups (`[optim]`, `[reg]`, `[early_stop]`)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, knob


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = knob("adam", "Update rule", CHOICE, choices=("sgd", "adam", "adamw", "rmsprop", "adagrad"))
    lr: float = knob(1e-3, "Learning rate", FLOAT, low=0.0, low_open=True, high=100.0)
    momentum: float = knob(0.0, "Momentum (sgd, rmsprop)", FLOAT, low=0.0, high=0.999999,
                           applies=lambda c: c.optim.optimizer in ("sgd", "rmsprop"))
    nesterov: bool = knob(False, "Nesterov momentum (sgd; needs momentum > 0)", BOOL,
                          applies=lambda c: c.optim.optimizer == "sgd")
    scheduler: str = knob("none", "Learning-rate schedule, stepped once per epoch", CHOICE,
                          choices=("none", "step", "cosine", "plateau"))
    step_size: int = knob(10, "Epochs between decays (step)", INT, low=1, high=100_000,
                          applies=lambda c: c.optim.scheduler == "step")
    gamma: float = knob(0.1, "Decay factor (step)", FLOAT, low=0.0, low_open=True, high=1.0,
                        applies=lambda c: c.optim.scheduler == "step")
    factor: float = knob(0.5, "Factor the lr is multiplied by on a plateau (plateau)", FLOAT, low=0.0,
                         low_open=True, high=0.999999, applies=lambda c: c.optim.scheduler == "plateau")
    plateau_patience: int = knob(1, "Epochs without val_loss improvement before the lr drops (plateau)", INT,
                                 low=0, high=100_000, applies=lambda c: c.optim.scheduler == "plateau")
    batch_size: int = knob(64, "Samples per step", INT, low=1, high=10_000_000)
    max_epochs: int = knob(20, "Upper bound on epochs", INT, low=1, high=1_000_000)
    grad_clip: float = knob(0.0, "Clip the gradient norm to this; 0: off", FLOAT, low=0.0, high=1e9)
    loss: str = knob("auto", "auto: bce for 2 classes, cross_entropy for more, mse for regression", CHOICE,
                     choices=("auto", "cross_entropy", "bce_with_logits", "mse", "huber", "l1"))
    class_weights: str = knob("none", "balanced: weight classes by inverse train frequency (classification)",
                              CHOICE, choices=("none", "balanced"))


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
