"""The curves of the trials running now, kept up to date from the store follower's new metric rows.

A running trial seen for the first time (started here, by the supervisor before a re-attach, or by
a `tunedeck run` in another terminal) has its history so far read from the store once; after that
only the new rows are appended. Finished trials are dropped here: the plot reads them from the
store once (PlotData), since their history never changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.states import TrialState
from engine.store import Store
from engine.tables.follower import Update

Curve = tuple[list[float], list[float]]
STEP_METRIC = "step_loss"


@dataclass
class LiveTrial:
    trial_id: int
    curves: dict[str, Curve] = field(default_factory=dict)

    def add(self, metric: str, x: float, value: float | None) -> None:
        """Append a point unless it is one already read (the history and the new rows may overlap)."""
        if value is None:
            return
        xs, ys = self.curves.setdefault(metric, ([], []))
        if not xs or x > xs[-1]:
            xs.append(x)
            ys.append(float(value))

    def metric(self, name: str) -> Curve:
        """Epochs and values of train_loss, val_loss, val_acc or lr; step_loss by step."""
        return self.curves.get(name, ([], []))

    def last(self, name: str) -> tuple[int, float] | None:
        """The newest (epoch, value) of an epoch metric."""
        xs, ys = self.metric(name)
        return (int(xs[-1]), ys[-1]) if xs else None


class LiveTrials:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.trials: dict[int, LiveTrial] = {}
        self.latest: int | None = None  # the trial that started most recently
        self._latest_start = 0.0

    def apply(self, update: Update) -> set[int]:
        """Fold in what the follower saw; the ids of the trials whose rows or curves changed."""
        changed: set[int] = set()
        for record in update.trials:
            changed.add(record.id)
            if record.started_at is not None and record.started_at >= self._latest_start:
                self._latest_start, self.latest = record.started_at, record.id
            if record.state is TrialState.RUNNING:
                if record.id not in self.trials:
                    self.trials[record.id] = self._load(record.id)
            else:
                self.trials.pop(record.id, None)
        for trial_id, epoch, step, metric, value in update.metrics:
            live = self.trials.get(trial_id)
            if live is not None:
                live.add(metric, float(step if metric == STEP_METRIC else epoch), value)
                changed.add(trial_id)
        return changed

    def _load(self, trial_id: int) -> LiveTrial:
        live = LiveTrial(trial_id)
        for _trial, epoch, step, metric, value in self.store.history([trial_id]):
            live.add(metric, float(step if metric == STEP_METRIC else epoch), value)
        return live

    def running(self) -> list[int]:
        return sorted(self.trials)

    def get(self, trial_id: int) -> LiveTrial | None:
        return self.trials.get(trial_id)
