"""text-csv: classify short texts from the user's CSV, the pipeline of the review and surname classifiers.

Everything learned from data (classes, vocabulary, the matrix length) comes from the train split
only, so the validation and test scores measure what a new text would get. Bad data fails here,
before any training, with the file, the config key and the column in the message.
"""
from __future__ import annotations

from typing import Any

import polars as pl
import torch

from engine.config.groups import Config
from engine.errors import TaskError
from engine.tasks.base import BINARY, MULTICLASS, Split, TaskData
from engine.tasks.splits import SPLITS, read_table, require_columns, split_labels
from engine.tasks.vectorize import bag, matrix, max_length, tokenize
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

    tokens = tokenize(frame[task.text_column], task.vectorizer, task.lowercase)
    is_train = splits == "train"
    vocab = Vocabulary.from_token_lists(tokens.filter(is_train), task.min_freq)
    if len(vocab) == 1:
        raise TaskError(_no_tokens(path, task.text_column, task.min_freq))
    ids = vocab.lookup_lists(tokens)
    targets = labels.replace_strict(classes, range(len(classes)), return_dtype=pl.Int64)

    info: dict[str, Any] = {"file": path, "vectorizer": task.vectorizer, "vocab_size": len(vocab),
                            "classes": len(classes)}
    char_matrix = task.vectorizer == "char-matrix"
    length = 0
    if char_matrix:
        length = max_length(ids.filter(is_train))
        info["max_length"] = length

    def vectorise(name: str) -> Split:
        mask = splits == name
        split_ids = ids.filter(mask)
        where = f"{path}: {name} split"
        x = matrix(split_ids, len(vocab), length, where) if char_matrix else bag(split_ids, len(vocab), where)
        return Split(x=x, y=targets.filter(mask).to_torch())

    train, val, test = (vectorise(name) for name in SPLITS)
    return TaskData(
        train=train, val=val, test=test,
        problem=BINARY if len(classes) == 2 else MULTICLASS,
        input_shape=(len(vocab), length) if char_matrix else (len(vocab),),
        n_classes=len(classes),
        class_counts=torch.bincount(train.y, minlength=len(classes)).tolist(),
        class_names=list(classes),
        info=info,
    )


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
