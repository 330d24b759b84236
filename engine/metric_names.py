"""What each number a trial reports is called and what it means: one name, one meaning, everywhere.

A trial's summary picks one epoch, the best by `early_stop.monitor`, and reads its metrics there
(`best_val_loss`, `val_acc_at_best`, and the test split scored with its weights); `max_val_acc` is
the highest val_acc of any epoch, which is what a sweep that maximises val_acc ranks by. The two
differ whenever the epoch with the lowest val_loss is not the most accurate one. The store's
columns (in SQL one keeps an older name: engine.store.schema.SQL_NAMES), the trial table, `tunedeck
show`, `tunedeck trials`, exports and a sweep's printed lines all take their names from here (`engine.events.Summary` has one field for each summary name).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Metrics logged once per epoch.
TRAIN_LOSS = "train_loss"
VAL_LOSS = "val_loss"
VAL_ACC = "val_acc"
LR = "lr"
EPOCH_SECONDS = "epoch_seconds"
EPOCH_METRICS: tuple[str, ...] = (TRAIN_LOSS, VAL_LOSS, VAL_ACC, LR, EPOCH_SECONDS)

# A trial's summary columns.
BEST_EPOCH = "best_epoch"
BEST_VAL_LOSS = "best_val_loss"
VAL_ACC_AT_BEST = "val_acc_at_best"
MAX_VAL_ACC = "max_val_acc"
TEST_LOSS = "test_loss"
TEST_ACC = "test_acc"
EPOCHS_RUN = "epochs_run"
STEPS = "steps"

MEANINGS: Mapping[str, str] = {
    TRAIN_LOSS: "mean training loss over the epoch's batches (without the L1 term)",
    VAL_LOSS: "mean loss on the validation split at the end of the epoch",
    VAL_ACC: "accuracy on the validation split at the end of the epoch (classification)",
    LR: "learning rate of the epoch's last optimizer step",
    EPOCH_SECONDS: "wall time of the epoch, its validation included",
    BEST_EPOCH: "the best epoch by early_stop.monitor (val_loss unless set otherwise)",
    BEST_VAL_LOSS: "val_loss at the best epoch (the lowest val_loss when early_stop.monitor is val_loss)",
    VAL_ACC_AT_BEST: "val_acc at the best epoch by early_stop.monitor",
    MAX_VAL_ACC: "the highest val_acc of any epoch (what a sweep maximising val_acc ranks by)",
    TEST_LOSS: "loss on the test split with the best epoch's weights (the last ones without restore_best)",
    TEST_ACC: "accuracy on the test split with the same weights as test_loss",
    EPOCHS_RUN: "epochs completed",
    STEPS: "optimizer steps taken",
}

# The summary as one line shows it (`tunedeck run`, `show`, the cockpit's detail screen).
SUMMARY_SHOWN: tuple[str, ...] = (BEST_EPOCH, BEST_VAL_LOSS, VAL_ACC_AT_BEST, MAX_VAL_ACC, TEST_LOSS, TEST_ACC,
                                  EPOCHS_RUN)
# Where a column reads shorter in a table header or a summary line than its name.
SHORT_LABELS: Mapping[str, str] = {EPOCHS_RUN: "epochs"}
# A summary column that holds an epoch metric's best value over all epochs, where one does.
_BEST_OF_EPOCHS = {(VAL_ACC, "maximize"): MAX_VAL_ACC}
# Where none does, the value at the monitored best epoch is the closest the summary holds (exact for
# val_loss under the default monitor).
_AT_BEST = {VAL_LOSS: BEST_VAL_LOSS, VAL_ACC: VAL_ACC_AT_BEST}


# Names an older tunedeck used, and what to say instead (a column asked for by its old name).
RENAMED: Mapping[str, str] = {
    "best_val_acc": f"renamed {VAL_ACC_AT_BEST}; {MAX_VAL_ACC} is the highest val_acc of any epoch",
}


def column_hint(name: str, columns: Sequence[str]) -> str:
    """' (renamed ...)' for a column's old name, else ' (did you mean ...?)' for the closest column, or ''."""
    from engine.config.knobs import suggest  # the config's rules load only where a name was mistyped

    return f" ({RENAMED[name]})" if name in RENAMED else suggest(name, list(columns))


def objective_name(metric: str, direction: str) -> str:
    """What a sweep's objective is called: its metric's best epoch value in its direction
    (`max_val_acc`, `min_val_loss`); the name of the summary column that holds it where there is one."""
    return _BEST_OF_EPOCHS.get((metric, direction)) or f"{'max' if direction == 'maximize' else 'min'}_{metric}"


def summary_stand_in(metric: str, direction: str) -> str | None:
    """The summary column to read for a trial whose per-epoch values are not at hand (a sweep's line
    for a trial that failed or was pruned): the metric's best over all epochs where the summary holds
    it, else its value at the monitored best epoch; None for a metric the summary does not hold."""
    return _BEST_OF_EPOCHS.get((metric, direction)) or _AT_BEST.get(metric)


def meaning(name: str) -> str:
    """What a metric or summary column means, for help text and documentation ('' when not ours)."""
    return MEANINGS.get(name, "")


def summary_text(values: Any, fmt: Callable[[Any], str], sep: str = "  ") -> str:
    """`best_epoch 8  best_val_loss 0.5952  val_acc_at_best 0.6333  max_val_acc 0.7  ...  epochs 8` from
    anything with the summary's attributes (a `Summary`, a stored record); `fmt` writes one value."""
    return sep.join(f"{SHORT_LABELS.get(name, name)} {fmt(getattr(values, name, None))}" for name in SUMMARY_SHOWN)
