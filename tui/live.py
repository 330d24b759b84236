"""The curves of the trials running now, kept up to date from the store follower's new metric rows.

A running trial seen for the first time (started here, by the supervisor before a re-attach, or by
a `tunedeck run` in another terminal) has its history so far read from the store once; after that
only the new rows are appended. Finished trials are dropped here: the plot reads them from the
store once (PlotData), since their history never changes.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.states import TrialState
from engine.store import Store
from engine.tables.follower import Update
from tui.plotting.stream import StreamCurve

STEP_METRIC = "step_loss"
STEP_SMOOTHED = "step_loss_smoothed"  # what the plot shows of the per-step loss
STEP_SMOOTHING = 0.1  # the exponential moving average's weight of a new step


@dataclass
class LiveTrial:
    """One trial's curves, each a StreamCurve: constant memory and plot cost, whatever the length."""

    trial_id: int
    curves: dict[str, StreamCurve] = field(default_factory=dict)
    _ema: float | None = None

    def add(self, metric: str, x: float, value: float | None) -> None:
        """Append a point unless it is one already read (the history and the new rows may overlap)."""
        if value is None:
            return
        curve = self.curves.get(metric)
        if curve is None:
            curve = self.curves[metric] = StreamCurve()
        last = curve.last()
        if last is not None and x <= last[0]:
            return
        y = float(value)
        curve.append(x, y)
        if metric == STEP_METRIC and math.isfinite(y):
            self._ema = y if self._ema is None else STEP_SMOOTHING * y + (1 - STEP_SMOOTHING) * self._ema
            self.add(STEP_SMOOTHED, x, self._ema)

    def add_history(self, rows: Iterable[tuple[int, int, int, str, float | None]]) -> None:
        """Rows as the store's history gives them: (trial, epoch, step, metric, value)."""
        for _trial, epoch, step, metric, value in rows:
            self.add(metric, float(step if metric == STEP_METRIC else epoch), value)

    def metric(self, name: str) -> StreamCurve:
        """train_loss, val_loss, val_acc or lr by epoch; step_loss (and its smoothing) by step."""
        curve = self.curves.get(name)
        return curve if curve is not None else StreamCurve()

    def count(self, name: str) -> int:
        """How many points of `name` were added (the curve keeps far fewer once long)."""
        curve = self.curves.get(name)
        return curve.count if curve is not None else 0

    def last(self, name: str) -> tuple[int, float] | None:
        """The newest (epoch, value) of an epoch metric."""
        point = self.metric(name).last()
        return (int(point[0]), point[1]) if point is not None else None


class LiveTrials:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.trials: dict[int, LiveTrial] = {}

    def apply(self, update: Update) -> set[int]:
        """Fold in what the follower saw; the ids of the trials whose rows or curves changed."""
        changed: set[int] = set()
        for record in update.trials:
            changed.add(record.id)
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
        live.add_history(self.store.history([trial_id]))
        return live

    def running(self) -> list[int]:
        return sorted(self.trials)

    def get(self, trial_id: int) -> LiveTrial | None:
        return self.trials.get(trial_id)
