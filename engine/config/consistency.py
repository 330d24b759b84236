"""Rules that involve more than one knob, and the task names they speak of.

Kept apart from the groups so that `engine.config.groups` stays a description of the knobs; each
rule names the key to change.
"""
from __future__ import annotations

from typing import Any

from engine.errors import ConfigError

SCRIPT_TASK = "script"  # the user's own training script, launched with the trial's knobs (engine/ownloop)
BUILTIN_TASKS = ("toy2d", "curve", "text-csv", "table-csv", SCRIPT_TASK)
CSV_TASKS = ("text-csv", "table-csv")
SEQUENCE_VECTORIZERS = ("char-seq", "word-seq")  # index sequences with <pad> = 0, for embedding models
VECTORIZERS = ("bow", "char-bow", "char-matrix", *SEQUENCE_VECTORIZERS, "char-ngrams")
INDEX_MODELS = ("rnn", "embedding_bag")  # models that read token indices and embed them
# What each index model reads from text-csv; char-ngrams becomes index lists for embedding_bag, a bag for the MLP.
INDEX_MODEL_VECTORIZERS = {"rnn": SEQUENCE_VECTORIZERS, "embedding_bag": (*SEQUENCE_VECTORIZERS, "char-ngrams")}


def is_regression(c: Any) -> bool:
    """The task is a regression as far as the config tells (a plugin's or a script's may be either)."""
    return c.task.name == "curve" or (c.task.name == "table-csv" and c.task.problem == "regression")


def check_consistency(c: Any) -> None:
    """Rules that involve more than one knob; each names the key to change. `c` is a Config
    (engine.config.groups calls this; typed loosely so that the two modules do not import each other)."""
    if c.task.name in (*CSV_TASKS, SCRIPT_TASK) and not c.task.path:
        raise ConfigError(f"is required for task {c.task.name!r} (set it in the preset or with "
                          f"--set task.path=FILE)", key="task.path", value=c.task.path)
    if c.model.kind == "cnn" and c.task.name in BUILTIN_TASKS and not (
        c.task.name == "text-csv" and c.task.vectorizer == "char-matrix"
    ):
        raise ConfigError(
            "model.kind = 'cnn' needs task.name = 'text-csv' with task.vectorizer = 'char-matrix'",
            key="model.kind", value=c.model.kind,
        )
    if c.task.name == "text-csv" and c.task.vectorizer == "char-matrix" and c.model.kind != "cnn":
        raise ConfigError("task.vectorizer = 'char-matrix' needs model.kind = 'cnn'",
                          key="task.vectorizer", value=c.task.vectorizer)
    _check_index_inputs(c)
    if c.optim.nesterov and c.optim.optimizer == "sgd" and c.optim.momentum <= 0:
        raise ConfigError("needs optim.momentum > 0", key="optim.nesterov", value=True)
    _check_warmup(c)
    regression = is_regression(c)
    classification = c.task.name in ("toy2d", "text-csv") or (
        c.task.name == "table-csv" and c.task.problem == "classification")
    if regression and c.optim.loss in ("cross_entropy", "bce_with_logits"):
        raise ConfigError(f"task {c.task.name!r} is a regression; use auto, mse, huber or l1",
                          key="optim.loss", value=c.optim.loss)
    if classification and c.optim.loss in ("mse", "huber", "l1"):
        raise ConfigError(f"task {c.task.name!r} is a classification; use auto, cross_entropy or bce_with_logits",
                          key="optim.loss", value=c.optim.loss)
    if regression and c.early_stop.monitor == "val_acc":
        raise ConfigError("val_acc needs a classification task; use val_loss", key="early_stop.monitor",
                          value="val_acc")
    if c.run.precision != "fp32" and c.run.device in ("cpu", "mps"):
        raise ConfigError(f"mixed precision needs a CUDA device, and run.device is {c.run.device!r}; use fp32",
                          key="run.precision", value=c.run.precision)


def _check_index_inputs(c: Any) -> None:
    """Embedding models need token indices, and index sequences mean nothing to the other models."""
    text = c.task.name == "text-csv"
    wanted = INDEX_MODEL_VECTORIZERS.get(c.model.kind)
    if wanted and c.task.name in BUILTIN_TASKS and not (text and c.task.vectorizer in wanted):
        given = f"task.vectorizer is {c.task.vectorizer!r}" if text else f"task.name is {c.task.name!r}"
        raise ConfigError(f"model.kind = {c.model.kind!r} needs task.name = 'text-csv' with task.vectorizer = one of "
                          f"{', '.join(wanted)} ({given})", key="model.kind", value=c.model.kind)
    if text and c.task.vectorizer in SEQUENCE_VECTORIZERS and c.model.kind not in INDEX_MODELS:
        raise ConfigError(f"gives index sequences: it needs model.kind = 'rnn' or 'embedding_bag' (model.kind is "
                          f"{c.model.kind!r})", key="task.vectorizer", value=c.task.vectorizer)
    if text and c.task.vectorizer == "char-ngrams" and c.task.ngram_min > c.task.ngram_max:
        raise ConfigError(f"must be >= task.ngram_min, which is {c.task.ngram_min}", key="task.ngram_max",
                          value=c.task.ngram_max)


def _check_warmup(c: Any) -> None:
    """A warm-up as long as the run never reaches optim.lr (onecycle ignores warmup_epochs)."""
    o = c.optim
    if o.scheduler != "onecycle" and o.warmup_epochs > 0 and o.warmup_epochs >= o.max_epochs:
        raise ConfigError(f"must end before the last epoch: set it below optim.max_epochs, which is {o.max_epochs} "
                          f"(else the lr never reaches optim.lr)", key="optim.warmup_epochs", value=o.warmup_epochs)
