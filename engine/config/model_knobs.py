"""The model group: which built-in model is built and its sizes (`[model]`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config.consistency import INDEX_MODELS
from engine.config.knobs import BOOL, CHOICE, INT, INT_LIST, knob


def _cnn(c: Any) -> bool:
    return c.model.kind == "cnn"


def _rnn(c: Any) -> bool:
    return c.model.kind == "rnn"


def _embeds(c: Any) -> bool:
    return c.model.kind in INDEX_MODELS


def _has_hidden_layers(c: Any) -> bool:
    """The mlp, and an embedding model with an MLP head."""
    return c.model.kind == "mlp" or (c.model.kind in INDEX_MODELS and c.model.head == "mlp")


@dataclass(frozen=True)
class ModelConfig:
    kind: str = knob("mlp", "perceptron: one linear layer; mlp: hidden layers; cnn: 1-D convolutions; rnn: "
                     "embeddings and a recurrent network; embedding_bag: the mean of token embeddings (fastText)",
                     CHOICE, choices=("perceptron", "mlp", "cnn", *INDEX_MODELS))
    hidden: tuple[int, ...] = knob((64,), "Hidden layer widths, input side first (mlp, and an mlp head)", INT_LIST,
                                   low=1, high=1_000_000, min_items=1, applies=_has_hidden_layers)
    activation: str = knob("relu", "Non-linearity between layers", CHOICE,
                           choices=("relu", "tanh", "elu", "gelu"),
                           applies=lambda c: c.model.kind == "cnn" or _has_hidden_layers(c))
    channels: int = knob(256, "Convolution channels (cnn)", INT, low=1, high=65_536, applies=_cnn)
    kernel_size: int = knob(3, "Convolution kernel size (cnn)", INT, low=1, high=64, applies=_cnn)
    conv_layers: int = knob(4, "Number of convolution layers; strides alternate 1,2,2,1 (cnn)", INT, low=1,
                            high=16, applies=_cnn)
    embedding_dim: int = knob(64, "Size of each token's embedding (rnn, embedding_bag)", INT, low=1, high=65_536,
                              applies=_embeds)
    head: str = knob("linear", "What turns the pooled features into outputs: linear: one layer; mlp: model.hidden "
                     "layers, then one (rnn, embedding_bag)", CHOICE, choices=("linear", "mlp"), applies=_embeds)
    rnn_cell: str = knob("gru", "Recurrent cell: gru, lstm, or elman (the plain tanh RNN)", CHOICE,
                         choices=("gru", "lstm", "elman"), applies=_rnn)
    rnn_hidden: int = knob(64, "Size of the recurrent state, per direction (rnn)", INT, low=1, high=65_536,
                           applies=_rnn)
    rnn_layers: int = knob(1, "Stacked recurrent layers; reg.dropout applies between them (rnn)", INT, low=1,
                           high=16, applies=_rnn)
    bidirectional: bool = knob(False, "Also read each text backwards and join both states (rnn)", BOOL,
                               applies=_rnn)
    rnn_pool: str = knob("last", "last: the state after the last real token (and the first, read backwards); mean: "
                         "the mean state over the real tokens (rnn)", CHOICE, choices=("last", "mean"), applies=_rnn)
