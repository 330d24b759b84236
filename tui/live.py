"""What the UI knows about trials while they run: their curves so far, built from drained events.

Finished trials are read back from the store (the source of truth); running ones are followed
here so that the plot moves without a store query per redraw.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.events import EpochEnded, Event, StepLoss, TrialFinished, TrialStarted
from engine.states import TrialState


@dataclass
class LiveTrial:
    trial_id: int
    started: TrialStarted | None = None
    epochs: list[EpochEnded] = field(default_factory=list)
    steps: list[tuple[int, float]] = field(default_factory=list)
    finished: TrialFinished | None = None

    @property
    def state(self) -> TrialState:
        if self.finished is not None:
            return self.finished.state
        return TrialState.RUNNING if self.started is not None else TrialState.QUEUED

    def metric(self, name: str) -> tuple[list[float], list[float]]:
        """Epochs and values of train_loss, val_loss, val_acc or lr; step_loss by step."""
        if name == "step_loss":
            return [float(s) for s, _ in self.steps], [v for _, v in self.steps]
        xs, ys = [], []
        for e in self.epochs:
            value = getattr(e, name)
            if value is not None:
                xs.append(float(e.epoch))
                ys.append(float(value))
        return xs, ys


class LiveTrials:
    """Per-trial state from the event stream; `apply` says which trials changed and how."""

    def __init__(self) -> None:
        self.trials: dict[int, LiveTrial] = {}
        self.latest: int | None = None  # the trial that started most recently

    def apply(self, events: Iterable[tuple[int, Event]]) -> tuple[set[int], bool]:
        """Fold events in; returns the changed trial ids and whether any row of the table changed."""
        changed: set[int] = set()
        table = False
        for trial_id, event in events:
            live = self.trials.setdefault(trial_id, LiveTrial(trial_id))
            changed.add(trial_id)
            if isinstance(event, StepLoss):
                live.steps.append((event.step, event.loss))
                continue
            table = True
            if isinstance(event, TrialStarted):
                live.started = event
                self.latest = trial_id
            elif isinstance(event, EpochEnded):
                live.epochs.append(event)
            elif isinstance(event, TrialFinished):
                live.finished = event
        return changed, table

    def running(self) -> list[int]:
        return [t for t, live in self.trials.items() if live.state is TrialState.RUNNING]

    def get(self, trial_id: int) -> LiveTrial | None:
        return self.trials.get(trial_id)
