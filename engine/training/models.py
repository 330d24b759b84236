"""The built-in models, sized from the config's model group and the task's input shape."""
from __future__ import annotations

import math

import torch
from torch import nn

from engine.config.consistency import INDEX_MODELS
from engine.config.groups import Config
from engine.errors import ConfigError
from engine.tasks.base import BINARY, REGRESSION, TaskData
from engine.training.seq_models import EmbeddingBagClassifier, RNNClassifier, dense_layers, head

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU}


def output_size(config: Config, data: TaskData, loss_name: str) -> int:
    if data.problem == REGRESSION:
        return data.out_features
    if data.problem == BINARY and loss_name == "bce_with_logits":
        return 1
    return data.n_classes


def build_model(config: Config, data: TaskData, loss_name: str) -> nn.Module:
    """The model the task brought, or one built from the config."""
    if data.model is not None:
        return data.model
    m = config.model
    out = output_size(config, data, loss_name)
    act = ACTIVATIONS[m.activation]
    if m.kind == "cnn":
        return _cnn(config, data, out, act)
    if m.kind in INDEX_MODELS:
        return _embedding_model(config, data, out, act)
    n_in = int(math.prod(data.input_shape))
    if m.kind == "perceptron":
        return nn.Sequential(nn.Flatten(), nn.Linear(n_in, out))
    return nn.Sequential(nn.Flatten(), *dense_layers(n_in, m.hidden, act, config.reg.dropout, out))


def conv_strides(n_layers: int) -> list[int]:
    """1, 2, 2, 1, 1, 2, 2, 1, ...: the book's surname CNN pattern, repeated."""
    return [(1, 2, 2, 1)[i % 4] for i in range(n_layers)]


class CharCNN(nn.Module):
    """1-D convolutions over a one-hot character matrix, max-pooled over what length remains."""

    def __init__(self, channels_in: int, channels: int, kernel: int, strides: list[int], act: type,
                 dropout: float, out: int) -> None:
        super().__init__()
        convs: list[nn.Module] = []
        for i, stride in enumerate(strides):
            convs += [nn.Conv1d(channels_in if i == 0 else channels, channels, kernel, stride=stride), act()]
        self.convs = nn.Sequential(*convs)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.convs(x).amax(dim=2)
        return self.head(self.dropout(features))


def _cnn(config: Config, data: TaskData, out: int, act: type) -> nn.Module:
    if len(data.input_shape) != 2:
        raise ConfigError("needs a (channels, length) input such as task.vectorizer = 'char-matrix'",
                          key="model.kind", value="cnn")
    vocab, length = data.input_shape
    m = config.model
    strides = conv_strides(m.conv_layers)
    remaining = length
    for stride in strides:
        remaining = (remaining - m.kernel_size) // stride + 1
        if remaining < 1:
            raise ConfigError(f"{m.conv_layers} layers of kernel {m.kernel_size} need longer inputs than the "
                              f"train split's {length} characters; use fewer layers or a smaller kernel",
                              key="model.conv_layers", value=m.conv_layers)
    return CharCNN(vocab, m.channels, m.kernel_size, strides, act, config.reg.dropout, out)


def _embedding_model(config: Config, data: TaskData, out: int, act: type) -> nn.Module:
    m = config.model
    if len(data.input_shape) != 2:
        raise ConfigError("needs token indices, input_shape (vocabulary size, length), such as task.vectorizer = "
                          "'char-seq', 'word-seq' or (for embedding_bag) 'char-ngrams'", key="model.kind", value=m.kind)
    vocab = data.input_shape[0]
    dropout = config.reg.dropout
    if m.kind == "embedding_bag":
        return EmbeddingBagClassifier(vocab, m.embedding_dim, head(m.embedding_dim, m.head, m.hidden, act, dropout, out))
    n_features = m.rnn_hidden * (2 if m.bidirectional else 1)
    return RNNClassifier(vocab, m.embedding_dim, m.rnn_cell, m.rnn_hidden, m.rnn_layers, m.bidirectional, dropout,
                         m.rnn_pool, head(n_features, m.head, m.hidden, act, dropout, out))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
