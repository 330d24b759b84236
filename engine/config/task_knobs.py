"""The task group: what is trained and how its data is read (a table `[task]` in a preset)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.config.consistency import (
    BUILTIN_TASKS,
    CSV_TASKS,
    SCRIPT_TASK,
    SEQUENCE_VECTORIZERS,
    VECTORIZERS,
)
from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, STR, STR_LIST, TABLE, knob

_PLUGIN_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")


def _plugin_problem(value: str) -> str | None:
    return None if _PLUGIN_RE.match(value) else "not of the form package.module:function"


def is_plugin(task_name: str) -> bool:
    return task_name not in BUILTIN_TASKS


def _task_in(*names: str):
    return lambda c: c.task.name in names


def _vectorizer_in(*names: str):
    return lambda c: c.task.name == "text-csv" and c.task.vectorizer in names


def _counts_tokens(c) -> bool:
    """min_freq applies unless the n-grams are hashed (every n-gram then has a bucket)."""
    return c.task.name == "text-csv" and not (c.task.vectorizer == "char-ngrams" and c.task.hash_buckets > 0)



@dataclass(frozen=True)
class TaskConfig:
    name: str = knob("toy2d", "What is trained: a built-in task or your own package.module:function",
                     CHOICE, choices=BUILTIN_TASKS, open_choice=True, validator=_plugin_problem)
    n_samples: int = knob(1000, "Number of generated samples (train+val+test)", INT, low=30, high=10_000_000,
                          applies=_task_in("toy2d", "curve"))
    noise: float = knob(0.3, "Std of the noise on the curve's targets (toy2d: spread of the clouds is 1)",
                        FLOAT, low=0.0, high=100.0, applies=_task_in("curve"))
    path: str = knob("", "Data file (CSV; table-csv also reads Parquet), or the training script of the "
                     "script task, relative to the working directory", STR, applies=_task_in(*CSV_TASKS, SCRIPT_TASK))
    args: tuple[str, ...] = knob((), "Extra command-line arguments for the script", STR_LIST,
                                 applies=_task_in(SCRIPT_TASK))
    python: str = knob("", "Interpreter that runs the script; empty: the one running tunedeck", STR,
                       applies=_task_in(SCRIPT_TASK))
    stop_grace: float = knob(10.0, "Seconds a stopped script gets after SIGTERM before SIGKILL", FLOAT, low=0.0,
                             high=3600.0, applies=_task_in(SCRIPT_TASK))
    pass_flags: bool = knob(False, "Also pass the knobs as --key value flags (for scripts without tunedeck)",
                            BOOL, applies=_task_in(SCRIPT_TASK))
    text_column: str = knob("text", "Column holding the text", STR, applies=_task_in("text-csv"))
    label_column: str = knob("label", "Column holding the class label", STR, applies=_task_in("text-csv"))
    split_column: str = knob("", "Column with train/val/test per row; empty: seeded 70/15/15 split by label",
                             STR, applies=_task_in(*CSV_TASKS))
    vectorizer: str = knob("bow", "bow: words; char-bow: characters; char-matrix: one-hot matrix for a CNN; "
                           "char-seq, word-seq: index sequences for rnn or embedding_bag; char-ngrams: character "
                           "n-grams (a bag for the mlp, index lists for embedding_bag)",
                           CHOICE, choices=VECTORIZERS, applies=_task_in("text-csv"))
    min_freq: int = knob(1, "Tokens seen fewer times than this in train become <unk>", INT, low=1,
                         high=1_000_000, applies=_counts_tokens)
    max_length: int = knob(0, "Tokens kept per text (longer texts are cut); 0: the 95th percentile of the train "
                           "split's lengths", INT, low=0, high=1_000_000,
                           applies=_vectorizer_in(*SEQUENCE_VECTORIZERS))
    ngram_min: int = knob(1, "Shortest character n-gram (the text is framed by a start and an end mark)", INT, low=1,
                          high=20, applies=_vectorizer_in("char-ngrams"))
    ngram_max: int = knob(3, "Longest character n-gram; >= task.ngram_min", INT, low=1, high=20,
                          applies=_vectorizer_in("char-ngrams"))
    hash_buckets: int = knob(0, "0: a vocabulary of the train split's n-grams (task.min_freq); N: every n-gram hashed "
                             "(CRC-32, the same in every process) into N buckets", INT, low=0, high=16_777_216,
                             applies=_vectorizer_in("char-ngrams"))
    lowercase: bool = knob(True, "Lower-case text before building the vocabulary", BOOL,
                           applies=_task_in("text-csv"))
    target_column: str = knob("target", "Column to predict", STR, applies=_task_in("table-csv"))
    feature_columns: tuple[str, ...] = knob((), "Numeric feature columns; empty: every numeric column but "
                                            "the target and split", STR_LIST, applies=_task_in("table-csv"))
    problem: str = knob("auto", "classification or regression; auto: integer/string target with few values "
                        "is classification", CHOICE, choices=("auto", "classification", "regression"),
                        applies=_task_in("table-csv"))
    options: dict = knob({}, "Free-form options passed to a plugin task", TABLE,
                         applies=lambda c: is_plugin(c.task.name))
