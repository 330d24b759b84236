"""Character n-grams of each text, and their indices: a vocabulary of the train split, or hashed buckets.

A text is framed by a start mark and an end mark before it is cut into n-grams (as fastText frames
words), so that a prefix ("^mc") and a suffix ("ov$") are features of their own. The marks are the
control characters STX and ETX, which a text's own characters never collide with in practice; they
count as characters, so with `ngram_min = 1` the two marks are 1-grams of every text.

Hashing maps each n-gram to a bucket with CRC-32 of its UTF-8 bytes: unlike Python's `hash()` of a
string (salted per process), it gives the same bucket in every process, on every machine, so a
trained model still reads the same features in the next process. Bucket b is index b + 1; index 0
is `<pad>` for the index lists of embedding_bag.
"""
from __future__ import annotations

import zlib

import polars as pl

from engine.tasks.vectorize import normalise

START, END = "\x02", "\x03"


def char_ngrams(texts: pl.Series, lowercase: bool, n_min: int, n_max: int) -> pl.Series:
    """Lists of the n-grams (n_min <= n <= n_max) of each framed text, in order of n, then of position."""
    texts = normalise(texts, lowercase)
    framed = pl.lit(START) + texts + pl.lit(END)
    chars = pl.DataFrame({"text": texts}).select(c=framed.str.split("")).with_row_index("row").explode("c")
    pieces = []
    for n in range(n_min, n_max + 1):
        ahead = [pl.col("c").shift(-k) for k in range(n)]
        same_text = (pl.col("row").shift(-(n - 1)) == pl.col("row")).fill_null(False)  # rows are contiguous
        pieces.append(chars.select("row", n=pl.lit(n), g=pl.concat_str(ahead)).filter(same_text))
    grams = pl.concat(pieces).with_row_index("order").sort("row", "n", "order")
    lists = grams.group_by("row", maintain_order=True).agg(pl.col("g"))
    rows = pl.DataFrame({"row": pl.int_range(0, len(texts), dtype=pl.UInt32, eager=True)})
    return rows.join(lists, on="row", how="left").sort("row").get_column("g").fill_null([]).alias("ngrams")


def bucket(ngram: str, buckets: int) -> int:
    """The index of an n-gram's bucket, 1..buckets (0 is `<pad>`)."""
    return 1 + zlib.crc32(ngram.encode("utf-8")) % buckets


def hashed_ids(ngrams: pl.Series, buckets: int) -> pl.Series:
    """Each list of n-grams as a list of bucket indices (Int64); each distinct n-gram is hashed once."""
    distinct = ngrams.explode().drop_nulls().unique().to_list()
    return ngrams.list.eval(
        pl.element().replace_strict(distinct, [bucket(g, buckets) for g in distinct], default=0,
                                    return_dtype=pl.Int64)
    )
