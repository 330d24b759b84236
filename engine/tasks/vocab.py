"""A token vocabulary built from the train split alone.

Counting only train rows keeps val and test out of the features: a word seen only in test is
unknown to the model, exactly as a word from a new user would be. Index 0 is `<unk>`, which
takes every token that is unseen or rarer than the cutoff. There is no `<pad>` token: the
character matrix pads with all-zero columns, so padding needs no row of its own.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

UNK = "<unk>"
UNK_INDEX = 0


class Vocabulary:
    """Tokens in a fixed order with `<unk>` first; the rest sorted so the order is reproducible."""

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self.tokens: list[str] = [UNK, *sorted(t for t in set(tokens) if t != UNK)]
        self._index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_freq: int = 1) -> Vocabulary:
        """Keep tokens seen at least `min_freq` times; the rest will map to `<unk>`."""
        return cls(token for token, count in counts.items() if count >= min_freq)

    @classmethod
    def from_token_lists(cls, token_lists: pl.Series, min_freq: int = 1) -> Vocabulary:
        """Count with Polars rather than Python so large corpora stay fast."""
        counts = token_lists.explode().drop_nulls().value_counts(name="count")
        kept = counts.filter(pl.col("count") >= min_freq)
        return cls(kept.get_column(kept.columns[0]).to_list())

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def lookup(self, token: str) -> int:
        return self._index.get(token, UNK_INDEX)

    def lookup_lists(self, token_lists: pl.Series) -> pl.Series:
        """Each list of tokens as a list of indices (Int64), unknown tokens as `<unk>`."""
        return token_lists.list.eval(
            pl.element().replace_strict(self.tokens, range(len(self.tokens)), default=UNK_INDEX,
                                        return_dtype=pl.Int64)
        )
