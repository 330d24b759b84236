"""Index sequences for the embedding models: one row of token indices per text, `<pad>` (0) after it.

The width is one number for every split: `task.max_length` (narrowed to the longest text of any split
when none is that long, so a generous cap costs nothing), or by default the 95th percentile of the train
texts' lengths, learned from the train split alone, so that a few very long texts do not make every row
(and every RNN step) that long; longer texts are cut at the end. Padding is only
ever at the end of a row and `<pad>` is never a token, so a model finds each text's length by
counting the non-zero indices.
"""
from __future__ import annotations

import math

import polars as pl
import torch

from engine.tasks.vectorize import check_size, column_tensor, flat_tokens
from engine.tasks.vectorize import max_length as longest

LENGTH_PERCENTILE = 0.95


def sequence_width(ids: pl.Series, is_train: pl.Series, max_length: int) -> int:
    """The rows' width: `max_length`, but no wider than the longest text of any split (at least 1); with
    `max_length` 0, `default_length` of the train split."""
    if not max_length:
        return default_length(ids.filter(is_train))
    return max(1, min(max_length, longest(ids)))


def default_length(train_ids: pl.Series) -> int:
    """The 95th percentile of the train split's lengths (rounded up), at least 1."""
    lengths = train_ids.list.len()
    if len(lengths) == 0:
        return 1
    value = lengths.quantile(LENGTH_PERCENTILE, interpolation="higher")
    return max(1, math.ceil(value)) if isinstance(value, (int, float)) else 1


def index_rows(ids: pl.Series, length: int, where: str, remedy: str) -> torch.Tensor:
    """int64 [n, length]: each text's indices from column 0, then zeros; longer texts are cut. `remedy`
    names the knob that narrows the rows, for a tensor too big to make."""
    shape = (len(ids), length)
    check_size(shape, where, torch.int64, remedy)
    x = torch.zeros(shape, dtype=torch.int64)
    flat = flat_tokens(ids, with_position=True).filter(pl.col("pos") < length)
    x[column_tensor(flat, "row"), column_tensor(flat, "pos")] = column_tensor(flat, "ids")
    return x
