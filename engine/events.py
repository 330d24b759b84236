"""What a training run says while it runs: typed, frozen events, and the signal that stops a trial.

The loop yields these; the runner stores every one; a UI or the CLI renders them. Nothing calls
back into a UI.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from typing import Union

from engine.states import TrialState


class StopSignal(threading.Event):
    """A cancel flag that can say how the trial should end: cancelled by default, or pruned with a reason.

    The loop checks it once per batch; whoever sets it (the user, a sweep's pruner) names the outcome.
    """

    def __init__(self) -> None:
        super().__init__()
        self.state = TrialState.CANCELLED
        self.reason: str | None = None

    def stop(self, state: TrialState = TrialState.CANCELLED, reason: str | None = None) -> None:
        if not self.is_set():
            self.state, self.reason = state, reason
        self.set()

    def clear(self) -> None:
        super().clear()
        self.state, self.reason = TrialState.CANCELLED, None


@dataclass(frozen=True)
class TrialStarted:
    device: str
    n_params: int
    n_train: int
    n_val: int
    n_test: int
    steps_per_epoch: int
    problem: str  # binary, multiclass or regression
    threads: int
    info: dict = field(default_factory=dict, hash=False)  # task facts: vocabulary size, classes, ...


@dataclass(frozen=True)
class StepLoss:
    epoch: int
    step: int  # global step, counted from 1
    loss: float


@dataclass(frozen=True)
class EpochEnded:
    epoch: int  # counted from 1
    step: int
    train_loss: float
    val_loss: float
    val_acc: float | None  # None for regression
    lr: float
    seconds: float
    improved: bool


@dataclass(frozen=True)
class Summary:
    best_epoch: int | None = None
    best_val_loss: float | None = None
    val_acc_at_best: float | None = None  # the meaning of each name: engine.metric_names
    test_loss: float | None = None
    test_acc: float | None = None
    epochs_run: int = 0
    steps: int = 0
    max_val_acc: float | None = None  # last, so that positional construction stays as it was

    @classmethod
    def of(cls, record: object) -> Summary:
        """The summary held by anything with these attributes (a stored trial's record, say)."""
        values = {name: getattr(record, name) for name in SUMMARY_COLUMNS}
        return cls(**{**values, "epochs_run": values["epochs_run"] or 0, "steps": values["steps"] or 0})


# The one definition of a trial's summary columns: the store's row, the trial table and the CLI use these
# (what each means: engine.metric_names.MEANINGS).
SUMMARY_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Summary))
INTEGER_SUMMARY_COLUMNS = frozenset(f.name for f in fields(Summary) if str(f.type).startswith("int"))


@dataclass(frozen=True)
class TrialFinished:
    state: TrialState
    reason: str
    summary: Summary
    seconds: float
    error: str | None = None  # the traceback when state is failed


Event = Union[TrialStarted, StepLoss, EpochEnded, TrialFinished]
