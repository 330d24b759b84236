"""A script trial's new metric rows, read from the store, as the events tunedeck's own loop sends.

Whatever a script logs reaches the store first (through `tunedeck.init`'s run, or the executor's
reading of its stdout); the executor polls the rows committed since its last look and turns them into
`StepLoss` (the `step_loss` rows) and `EpochEnded` events, so that the cockpit, a sweep's objective and
its pruner see a script trial as they see any other.

An epoch is one event, sent once, once it holds one of the standard epoch metrics (a script's run adds
`epoch_seconds` to every epoch it logs; per-step values of the epoch in progress do not end it): when it holds `val_loss` or `val_acc` (validation comes last in an
epoch), when a later epoch's rows arrive, QUIET_SECONDS after its last new row, or when the trial ends.
So an epoch logged in two calls (its training loss, then its validation) is judged once, whole. The
standard fields a script did not log are NaN (`val_acc`: None); `seconds` is its `epoch_seconds`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from engine.events import EpochEnded, Event, StepLoss
from engine.store.schema import EPOCH_METRICS, STEP_METRIC
from engine.store.trials import Store

QUIET_SECONDS = 2.0  # a script's run stores its rows about once a second
_VALIDATION = ("val_loss", "val_acc")
_BATCH = 10_000


@dataclass
class _Epoch:
    step: int = 0
    values: dict[str, float] = field(default_factory=dict)
    last_row: float = 0.0
    ended: bool = False  # it holds an epoch metric: the rows of the epoch in progress (per-step values) do not


class MetricEvents:
    """Follows one trial's metric rows from the moment it is made (rows stored earlier are not events)."""

    def __init__(self, store: Store, trial_id: int, quiet: float = QUIET_SECONDS) -> None:
        self.store = store
        self.trial_id = trial_id
        self.quiet = quiet
        self._rowid = store.last_metric_row()
        self._pending: dict[int, _Epoch] = {}  # epochs seen, not yet sent
        self._sent: set[int] = set()
        self._best: float | None = None

    def poll(self, now: float | None = None) -> list[Event]:
        """Events for the rows committed since the last poll, and for epochs now due."""
        now = time.monotonic() if now is None else now
        events: list[Event] = []
        while True:
            rows, self._rowid = self.store.metrics_since(self._rowid, _BATCH)
            for trial_id, epoch, step, metric, value in rows:
                if trial_id != self.trial_id or value is None:
                    continue
                events += self._earlier(epoch)
                if metric == STEP_METRIC:
                    events.append(StepLoss(epoch, step, value))
                    continue
                if epoch in self._sent:
                    continue  # a metric logged after its epoch was sent (a test metric, say): stored, not sent
                pending = self._pending.setdefault(epoch, _Epoch())
                pending.step = max(pending.step, step)
                pending.values[metric] = value
                pending.last_row = now
                pending.ended = pending.ended or metric in EPOCH_METRICS
            if len(rows) < _BATCH:
                break
        return events + self._due(now)

    def flush(self) -> list[Event]:
        """The trial ended: every epoch still held."""
        return [self._event(epoch) for epoch in sorted(e for e, p in self._pending.items() if p.ended)]

    def _earlier(self, epoch: int) -> list[Event]:
        """The epochs before one whose rows arrive now: they are over."""
        return [self._event(e) for e in sorted(self._pending) if e < epoch and self._pending[e].ended]

    def _due(self, now: float) -> list[Event]:
        due = [e for e, p in self._pending.items() if p.ended and (
            any(m in p.values for m in _VALIDATION) or now - p.last_row >= self.quiet)]
        return [self._event(epoch) for epoch in sorted(due)]

    def _event(self, epoch: int) -> EpochEnded:
        pending = self._pending.pop(epoch)
        self._sent.add(epoch)
        values = pending.values
        val_loss = values.get("val_loss", math.nan)
        improved = math.isfinite(val_loss) and (self._best is None or val_loss < self._best)
        if improved:
            self._best = val_loss
        return EpochEnded(epoch=epoch, step=pending.step, train_loss=values.get("train_loss", math.nan),
                          val_loss=val_loss, val_acc=values.get("val_acc"), lr=values.get("lr", math.nan),
                          seconds=values.get("epoch_seconds", 0.0), improved=improved)
