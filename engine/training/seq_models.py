"""The embedding models: a recurrent network over index sequences, and a fastText-style embedding bag.

Both read int64 token indices with `<pad>` = 0 at the end of each row, and an input_shape of
(vocabulary size, length) whose vocabulary counts `<pad>`. A plugin task that wants them hands over
the same: index rows padded with 0 and that input_shape.

The RNN finds each text's length by counting its non-pad indices, inside the model, and runs on a
packed sequence: the padding is never read, so the same text padded to any width gives the same
output (in eval mode; dropout aside).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from engine.tasks.vocab import PAD_INDEX

CELLS: dict[str, type[nn.GRU] | type[nn.LSTM] | type[nn.RNN]] = {"gru": nn.GRU, "lstm": nn.LSTM, "elman": nn.RNN}


def dense_layers(n_in: int, widths: tuple[int, ...], act: type, dropout: float, out: int) -> list[nn.Module]:
    """Linear, activation and dropout per hidden width, then the output layer: the MLP, and the MLP head."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(n_in, width), act()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers.append(nn.Linear(n_in, out))
    return layers


def head(n_in: int, kind: str, widths: tuple[int, ...], act: type, dropout: float, out: int) -> nn.Sequential:
    """linear: dropout on the pooled features (when set), one layer; mlp: dense_layers over `widths`."""
    if kind == "mlp":
        return nn.Sequential(*dense_layers(n_in, widths, act, dropout, out))
    return nn.Sequential(*([nn.Dropout(dropout)] if dropout > 0 else []), nn.Linear(n_in, out))


class RNNClassifier(nn.Module):
    """Embedding, a GRU/LSTM/Elman RNN on the packed sequence, the last state or the mean state, a head."""

    def __init__(self, vocab_size: int, embedding_dim: int, cell: str, hidden: int, layers: int,
                 bidirectional: bool, dropout: float, pool: str, head: nn.Module) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_INDEX)
        self.rnn = CELLS[cell](embedding_dim, hidden, num_layers=layers, batch_first=True,
                               bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0)
        self.directions = 2 if bidirectional else 1
        self.pool = pool
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lengths = (x != PAD_INDEX).sum(dim=1).clamp(min=1).cpu()  # an empty text reads one <pad>
        x = x[:, :int(lengths.max())]  # padding beyond the longest text in the batch is never read
        packed = pack_padded_sequence(self.embedding(x), lengths, batch_first=True, enforce_sorted=False)
        outputs, state = self.rnn(packed)
        if self.pool == "last":
            h = state[0] if isinstance(state, tuple) else state  # an LSTM's state is (h, c)
            # The top layer's final state per direction: forward after the last token, backward after the first.
            features = h[-self.directions:].transpose(0, 1).reshape(x.shape[0], -1)
        else:
            padded, _ = pad_packed_sequence(outputs, batch_first=True)  # zeros past each text's end
            features = padded.sum(dim=1) / lengths.to(padded.device, padded.dtype).unsqueeze(1)
        return self.head(features)


class EmbeddingBagClassifier(nn.Module):
    """fastText: the mean of the tokens' embeddings (`<pad>` left out of the mean), then a head."""

    def __init__(self, vocab_size: int, embedding_dim: int, head: nn.Module) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size, embedding_dim, mode="mean", padding_idx=PAD_INDEX)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bag(x))
