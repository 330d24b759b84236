"""A token vocabulary built from the train split alone.

Counting only train rows keeps val and test out of the features: a word seen only in test is
unknown to the model, exactly as a word from a new user would be. `<unk>` takes every token that
is unseen or rarer than the cutoff. Bags and the character matrix need no `<pad>` (they pad with
zeros), so their vocabulary starts with `<unk>` at 0; index sequences pad with `<pad>` = 0 and
put `<unk>` at 1, so that an embedding can keep row 0 at zero and a model can find the padding.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

UNK = "<unk>"
PAD = "<pad>"
PAD_INDEX = 0  # in a vocabulary made with pad=True (`<unk>` is then 1); index rows pad with it
TOKEN, OCCURRENCES = "token", "occurrences"  # the counting frame's columns, whatever the text column is named


class Vocabulary:
    """Tokens in a fixed order, the special tokens first; the rest sorted so the order is reproducible."""

    def __init__(self, tokens: Iterable[str] = (), pad: bool = False) -> None:
        specials = [PAD, UNK] if pad else [UNK]
        self.tokens: list[str] = [*specials, *sorted(t for t in set(tokens) if t not in specials)]
        self._index = {token: i for i, token in enumerate(self.tokens)}
        self.unk_index = self._index[UNK]

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_freq: int = 1, pad: bool = False) -> Vocabulary:
        """Keep tokens seen at least `min_freq` times; the rest will map to `<unk>`."""
        return cls((token for token, count in counts.items() if count >= min_freq), pad=pad)

    @classmethod
    def from_token_lists(cls, token_lists: pl.Series, min_freq: int = 1, pad: bool = False) -> Vocabulary:
        """Count with Polars rather than Python so large corpora stay fast."""
        counts = token_lists.explode().drop_nulls().alias(TOKEN).value_counts(name=OCCURRENCES)
        kept = counts.filter(pl.col(OCCURRENCES) >= min_freq)
        return cls(kept.get_column(TOKEN).to_list(), pad=pad)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def lookup(self, token: str) -> int:
        return self._index.get(token, self.unk_index)

    def lookup_lists(self, token_lists: pl.Series) -> pl.Series:
        """Each list of tokens as a list of indices (Int64), unknown tokens as `<unk>`."""
        return token_lists.list.eval(
            pl.element().replace_strict(self.tokens, range(len(self.tokens)), default=self.unk_index,
                                        return_dtype=pl.Int64)
        )
