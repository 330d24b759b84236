"""Turning texts into tensors: bag of words, bag of characters, character matrix (dense float),
and index sequences (int64, `<pad>` = 0) for the embedding models.

Tokenisation is deliberately simple so a user can predict it:
- `bow` and `word-seq`: after optional lower-casing, a token is a maximal run of word characters (Unicode
  letters, digits and underscore, regex `\\w+`); everything else separates tokens and is dropped,
  so punctuation never becomes a feature ("don't!" gives "don", "t").
- `char-bow`, `char-matrix` and `char-seq`: every character (Unicode code point) is a token, spaces
  and punctuation included.
- `char-ngrams`: see engine.tasks.ngrams.
The tensors are filled by indexing with flat (row, token[, position]) index tensors built by
Polars, never by a Python loop over rows or the vocabulary.
"""
from __future__ import annotations

import polars as pl
import torch

from engine.config.consistency import VECTORIZERS
from engine.errors import TaskError

MAX_TENSOR_BYTES = 4 * 1024**3
_WORD = r"\w+"
MIN_FREQ_REMEDY = "raise task.min_freq to shrink the vocabulary or use fewer rows"


def normalise(texts: pl.Series, lowercase: bool) -> pl.Series:
    """Texts as strings before they are cut into tokens: a null text counts as empty; lower-cased if asked."""
    texts = texts.cast(pl.Utf8).fill_null("")
    return texts.str.to_lowercase() if lowercase else texts


def tokenize(texts: pl.Series, vectorizer: str, lowercase: bool) -> pl.Series:
    """Lists of tokens, one list per text; a null text counts as empty."""
    texts = normalise(texts, lowercase)
    if vectorizer in ("bow", "word-seq"):
        return texts.str.extract_all(_WORD).fill_null([])
    if vectorizer in ("char-bow", "char-matrix", "char-seq"):
        return texts.str.split("")
    raise ValueError(f"unknown vectorizer {vectorizer!r}; expected one of {', '.join(VECTORIZERS)}")


def flat_tokens(ids: pl.Series, with_position: bool) -> pl.DataFrame:
    """One row per token occurrence: (row, id[, pos]), empty lists dropped."""
    frame = pl.DataFrame({"ids": ids}).with_row_index("row")
    if with_position:
        frame = frame.with_columns(pos=pl.int_ranges(0, pl.col("ids").list.len()))
        frame = frame.explode(["ids", "pos"])
    else:
        frame = frame.explode("ids")
    return frame.drop_nulls("ids")


def column_tensor(frame: pl.DataFrame, column: str) -> torch.Tensor:
    """A column of `flat_tokens`' frame as an int64 tensor, to index with."""
    return frame.get_column(column).cast(pl.Int64).to_torch()


def check_size(shape: tuple[int, ...], where: str, dtype: torch.dtype = torch.float32,
               remedy: str = MIN_FREQ_REMEDY) -> None:
    """Refuse before allocating a tensor that would not fit, and say which knob shrinks it."""
    n_bytes = dtype.itemsize
    for dim in shape:
        n_bytes *= dim
    if n_bytes > MAX_TENSOR_BYTES:
        raise TaskError(f"{where}: the features would take {n_bytes / 1024**3:.1f} GiB "
                        f"(shape {' x '.join(map(str, shape))}, {str(dtype).removeprefix('torch.')}); {remedy}")


def bag(ids: pl.Series, vocab_size: int, where: str = "", remedy: str = MIN_FREQ_REMEDY) -> torch.Tensor:
    """Collapsed one-hot [n, V]: 1.0 where a token occurs in the text, however often."""
    shape = (len(ids), vocab_size)
    check_size(shape, where, remedy=remedy)
    x = torch.zeros(shape, dtype=torch.float32)
    flat = flat_tokens(ids, with_position=False)
    x[column_tensor(flat, "row"), column_tensor(flat, "ids")] = 1.0
    return x


def matrix(ids: pl.Series, vocab_size: int, length: int, where: str = "") -> torch.Tensor:
    """One-hot [n, V, L]: column j is character j; longer texts are cut, shorter ones end in zeros."""
    shape = (len(ids), vocab_size, length)
    check_size(shape, where)
    x = torch.zeros(shape, dtype=torch.float32)
    flat = flat_tokens(ids, with_position=True).filter(pl.col("pos") < length)
    x[column_tensor(flat, "row"), column_tensor(flat, "ids"), column_tensor(flat, "pos")] = 1.0
    return x


def max_length(ids: pl.Series) -> int:
    """Longest list, 0 when there are none."""
    if len(ids) == 0:
        return 0
    longest = ids.list.len().max()
    return int(longest) if isinstance(longest, (int, float)) else 0
