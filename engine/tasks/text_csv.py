"""text-csv: classify short texts from the user's CSV, the pipeline of the review and surname classifiers.

Everything learned from data (classes, vocabulary, the matrix and sequence lengths) comes from the
train split only, so the validation and test scores measure what a new text would get. Bad data fails here,
before any training, with the file, the config key and the column in the message.
"""
from __future__ import annotations

from typing import Any

import polars as pl
import torch

from engine.config.consistency import INDEX_MODELS, SEQUENCE_VECTORIZERS
from engine.config.groups import Config
from engine.errors import TaskError
from engine.tasks.base import BINARY, MULTICLASS, Split, TaskData
from engine.tasks.ngrams import char_ngrams, hashed_ids
from engine.tasks.sequences import index_rows, sequence_width
from engine.tasks.splits import SPLITS, read_table, require_columns, split_labels
from engine.tasks.vectorize import MIN_FREQ_REMEDY, bag, matrix, max_length, tokenize
from engine.tasks.vocab import Vocabulary


def build(config: Config) -> TaskData:
    """Read, split, learn classes and vocabulary on train, and vectorise every split."""
    task = config.task
    path = task.path
    frame = read_table(path)
    keys = {"task.text_column": task.text_column, "task.label_column": task.label_column}
    if task.split_column:
        keys["task.split_column"] = task.split_column
    require_columns(frame, path, keys)

    labels = class_labels(frame, path, task.label_column)
    splits = pl.Series("split", split_labels(frame, path, task.split_column, labels.to_list(), config.run.seed))
    classes = train_classes(labels, splits, path, task.label_column)

    targets = labels.replace_strict(classes, range(len(classes)), return_dtype=pl.Int64)
    features = Features(config, frame[task.text_column], splits == "train", path)

    def vectorise(name: str) -> Split:
        mask = splits == name
        return Split(x=features.tensor(mask, f"{path}: {name} split"), y=targets.filter(mask).to_torch())

    train, val, test = (vectorise(name) for name in SPLITS)
    return TaskData(
        train=train, val=val, test=test,
        problem=BINARY if len(classes) == 2 else MULTICLASS,
        input_shape=features.input_shape,
        n_classes=len(classes),
        class_counts=torch.bincount(train.y, minlength=len(classes)).tolist(),
        class_names=list(classes),
        info={"file": path, "vectorizer": task.vectorizer, "vocab_size": features.vocab_size,
              "classes": len(classes), **features.info},
    )


class Features:
    """Token indices of every text and how they become tensors, all learned from the train rows.

    Layouts: a collapsed one-hot bag [n, V] (bow, char-bow, char-ngrams for the mlp); a one-hot
    matrix [n, V, L] (char-matrix); index rows [n, L], int64 with `<pad>` = 0, for the embedding
    models, whose input_shape is (V, L) with V counting `<pad>` and `<unk>`.
    """

    def __init__(self, config: Config, texts: pl.Series, is_train: pl.Series, path: str) -> None:
        task = config.task
        self.layout = "matrix" if task.vectorizer == "char-matrix" else (
            "indices" if config.model.kind in INDEX_MODELS else "bag")
        self.info: dict[str, Any] = {}
        if task.vectorizer == "char-ngrams":
            tokens = char_ngrams(texts, task.lowercase, task.ngram_min, task.ngram_max)
            self.info["ngrams"] = f"{task.ngram_min}-{task.ngram_max}"
            if not tokens.filter(is_train).list.len().sum():
                raise TaskError(f"{path}: task.ngram_min: no text of column {task.text_column!r} in the train split "
                                f"is long enough for a {task.ngram_min}-gram (its two marks included); lower "
                                f"task.ngram_min")
        else:
            tokens = tokenize(texts, task.vectorizer, task.lowercase)
        pad = self.layout == "indices"
        if task.vectorizer == "char-ngrams" and task.hash_buckets:
            self.ids = hashed_ids(tokens, task.hash_buckets)
            self.vocab_size = task.hash_buckets + 1
            self.info["hash_buckets"] = task.hash_buckets
        else:
            vocab = Vocabulary.from_token_lists(tokens.filter(is_train), task.min_freq, pad=pad)
            if len(vocab) == vocab.unk_index + 1:
                raise TaskError(_no_tokens(path, task.text_column, task.min_freq))
            self.ids = vocab.lookup_lists(tokens)
            self.vocab_size = len(vocab)
        self.length = 0
        train_ids = self.ids.filter(is_train)
        if self.layout == "matrix":
            self.length = max_length(train_ids)
        elif task.vectorizer in SEQUENCE_VECTORIZERS:
            self.length = sequence_width(self.ids, is_train, task.max_length)
        elif pad:  # n-grams as a bag of indices: as wide as the train split's most (a longer val/test text is cut)
            self.length = max(1, max_length(train_ids))
        self.remedy = _remedy(task.vectorizer, self.layout, bool(task.hash_buckets))
        if self.length:
            self.info["max_length"] = self.length

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.vocab_size,) if self.layout == "bag" else (self.vocab_size, self.length)

    def tensor(self, mask: pl.Series, where: str) -> torch.Tensor:
        ids = self.ids.filter(mask)
        if self.layout == "matrix":
            return matrix(ids, self.vocab_size, self.length, where)
        if self.layout == "indices":
            return index_rows(ids, self.length, where, self.remedy)
        return bag(ids, self.vocab_size, where, self.remedy)


def _remedy(vectorizer: str, layout: str, hashed: bool) -> str:
    """The knob that shrinks the features when they would not fit: the width of index rows, the bag's size."""
    if layout == "indices":
        knob = "lower task.ngram_max" if vectorizer == "char-ngrams" else "lower task.max_length"
    elif hashed:
        knob = "lower task.hash_buckets"
    else:
        return MIN_FREQ_REMEDY
    return f"{knob} or use fewer rows"


def class_labels(frame: pl.DataFrame, path: str, column: str) -> pl.Series:
    """The label column as strings; refuses nulls and a column with fewer than two classes."""
    labels = frame[column]
    if labels.null_count():
        raise TaskError(f"{path}: task.label_column: column {column!r} has {labels.null_count()} empty values "
                        f"in {frame.height} rows; every row needs a label")
    labels = labels.cast(pl.Utf8)
    distinct = labels.unique().sort().to_list()
    if len(distinct) < 2:
        raise TaskError(f"{path}: task.label_column: needs at least 2 classes; column {column!r} "
                        f"has only {distinct[0]!r}")
    return labels


def train_classes(labels: pl.Series, splits: pl.Series, path: str, column: str) -> list[str]:
    """Classes sorted as strings, from train; a val/test label never seen in train is an error."""
    classes = labels.filter(splits == "train").unique().sort().to_list()
    known = set(classes)
    for name in SPLITS[1:]:
        unseen = sorted(set(labels.filter(splits == name).unique().to_list()) - known)
        if unseen:
            shown = ", ".join(repr(u) for u in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
            raise TaskError(f"{path}: task.label_column: the {name} split has label(s) {shown} in column "
                            f"{column!r} that the train split never has; the model could not predict them")
    return classes


def _no_tokens(path: str, column: str, min_freq: int) -> str:
    if min_freq > 1:
        return (f"{path}: task.min_freq: no token in column {column!r} occurs {min_freq} times in the train "
                f"split; lower task.min_freq")
    return f"{path}: task.text_column: column {column!r} has no tokens in the train split"
