"""The model group: which built-in model is built and its sizes (`[model]`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config.knobs import CHOICE, INT, INT_LIST, knob


def _cnn(c: Any) -> bool:
    return c.model.kind == "cnn"


@dataclass(frozen=True)
class ModelConfig:
    kind: str = knob("mlp", "perceptron: one linear layer; mlp: hidden layers; cnn: 1-D convolutions",
                     CHOICE, choices=("perceptron", "mlp", "cnn"))
    hidden: tuple[int, ...] = knob((64,), "Hidden layer widths, input side first (mlp)", INT_LIST, low=1,
                                   high=1_000_000, min_items=1, applies=lambda c: c.model.kind == "mlp")
    activation: str = knob("relu", "Non-linearity between layers", CHOICE,
                           choices=("relu", "tanh", "elu", "gelu"), applies=lambda c: c.model.kind != "perceptron")
    channels: int = knob(256, "Convolution channels (cnn)", INT, low=1, high=65_536, applies=_cnn)
    kernel_size: int = knob(3, "Convolution kernel size (cnn)", INT, low=1, high=64, applies=_cnn)
    conv_layers: int = knob(4, "Number of convolution layers; strides alternate 1,2,2,1 (cnn)", INT, low=1,
                            high=16, applies=_cnn)
