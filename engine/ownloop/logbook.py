"""What a script logged and not yet stored: the rows waiting for the next flush, and where the trial stands.

`run.log(epoch=N, **metrics)` logs an epoch's metrics (any names); `run.log(step=N, loss=x)` a step's
loss, stored as `step_loss` of the epoch in progress (the one after the last logged). Values must be
finite numbers, with one exception taken from tunedeck's own loop: a loss (a metric whose name ends
in `loss`) that is NaN or infinite does not raise; it ends the trial `diverged`, its reason saying
which loss became what at which epoch and step, and the call's values are not stored (the loop keeps
no epoch whose loss diverged). The best epoch is the one with the lowest `val_loss` logged (the
highest `val_acc` for a script that logs no `val_loss`), as the trial table ranks trials.

Not thread-safe by itself: the `Run` holds a lock around every call.
"""
from __future__ import annotations

import math
import operator
import time
from dataclasses import dataclass
from typing import Any

from engine.store.schema import EPOCH_METRICS, STEP_METRIC
from engine.store.script_runs import MetricRow, ScriptProgress

STEP_LOSS_KEY = "loss"  # run.log(step=N, loss=x)
TEST_METRICS = ("test_loss", "test_acc")  # the last logged values are the trial's test summary


class LogError(ValueError):
    """A value `run.log` cannot store; the message names the key and the value."""


@dataclass(frozen=True)
class Divergence:
    reason: str


def _count(name: str, value: Any) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise LogError(f"run.log: {name}: must be a whole number, got {value!r}") from None
    if number < 0:
        raise LogError(f"run.log: {name}: must be >= 0, got {number}")
    return number


def _number(name: str, value: Any) -> float:
    if isinstance(value, (str, bytes)):
        raise LogError(f"run.log: {name}: must be a finite number, got {value!r}")
    try:
        return float(value)  # a Python or NumPy number, or a one-element tensor
    except (TypeError, ValueError, RuntimeError):
        raise LogError(f"run.log: {name}: must be a finite number, got {value!r}") from None


class Logbook:
    def __init__(self) -> None:
        self.rows: list[MetricRow] = []
        self.epoch: int | None = None  # the last epoch logged
        self.step = 0  # the highest step logged
        self.logged = 0  # values accepted, stored or waiting
        self.tests: dict[str, float] = {}
        self._epoch_began = time.perf_counter()
        self._by_loss: tuple[int, float, float | None] | None = None  # epoch, val_loss, val_acc
        self._by_acc: tuple[int, float] | None = None  # epoch, val_acc (for a script without val_loss)
        self._val_epoch: int | None = None
        self._val: dict[str, float] = {}

    def add(self, epoch: int | None, step: int | None, metrics: dict[str, Any]) -> Divergence | None:
        """Take one `run.log` call; a Divergence when one of its losses is not finite (nothing is kept then)."""
        if epoch is None and step is not None and len(metrics) == 1 and STEP_LOSS_KEY in metrics:
            return self._step_loss(_count("step", step), metrics[STEP_LOSS_KEY])  # the hot path: every step
        values = {name: _number(name, value) for name, value in metrics.items()}
        at_step = self.step if step is None else max(self.step, _count("step", step))
        if epoch is None:
            if step is not None:
                return self._step_metrics(at_step, values)
            epoch = self.epoch or 0  # final metrics (test_loss=...): the last epoch's
        else:
            epoch = _count("epoch", epoch)
            if self.epoch is not None and epoch < self.epoch:
                raise LogError(f"run.log: epoch: must not go back (epoch {self.epoch} was logged), got {epoch}")
        bad = self._not_finite(values, epoch, at_step)
        if bad is not None:
            return bad
        for name in values:
            if name == STEP_METRIC:
                raise LogError(f"run.log: {name}: is the name of step losses; log them with "
                               f"run.log(step=N, {STEP_LOSS_KEY}=x)")
        now = time.perf_counter()
        if epoch != self.epoch and "epoch_seconds" not in values and epoch > 0:
            values["epoch_seconds"] = now - self._epoch_began
        if epoch != self.epoch:
            self._epoch_began = now
        self.rows.extend((epoch, at_step, name, value) for name, value in values.items())
        self.logged += len(values)
        self.epoch, self.step = epoch, at_step
        self._note_best(epoch, values)
        for name in TEST_METRICS:
            if name in values:
                self.tests[name] = values[name]
        return None

    def _step_loss(self, step: int, raw: Any) -> Divergence | None:
        value = _number(STEP_LOSS_KEY, raw)
        epoch = (self.epoch or 0) + 1
        if not math.isfinite(value):
            return Divergence(f"step loss became {value} at epoch {epoch}, step {step}")
        self.rows.append((epoch, step, STEP_METRIC, value))
        self.logged += 1
        if step > self.step:
            self.step = step
        return None

    def add_step_losses(self, steps: list[tuple[int, int, float]]) -> None:
        """Step losses already checked (finite floats), each with the epoch it was logged in."""
        self.rows.extend((epoch, step, STEP_METRIC, loss) for epoch, step, loss in steps)
        self.logged += len(steps)
        self.step = max(self.step, max(step for _, step, _ in steps))

    def _step_metrics(self, step: int, values: dict[str, float]) -> Divergence | None:
        """Per-step values other than the loss (a gradient norm, say), stored under their own names."""
        epoch = (self.epoch or 0) + 1
        for name in values:
            if name in EPOCH_METRICS or name in (STEP_METRIC, *TEST_METRICS):
                raise LogError(f"run.log: {name}: is a per-epoch metric; log it with run.log(epoch=N, {name}=x)")
        bad = self._not_finite(values, epoch, step)
        if bad is not None:
            return bad
        rows = [(epoch, step, STEP_METRIC if name == STEP_LOSS_KEY else name, value) for name, value in values.items()]
        self.rows.extend(rows)
        self.logged += len(rows)
        self.step = step
        return None

    @staticmethod
    def _not_finite(values: dict[str, float], epoch: int, step: int) -> Divergence | None:
        for name, value in values.items():
            if not math.isfinite(value) and name.endswith("loss"):
                what = "step loss" if name == STEP_LOSS_KEY else name
                return Divergence(f"{what} became {value} at epoch {epoch}, step {step}")
        for name, value in values.items():
            if not math.isfinite(value):
                raise LogError(f"run.log: {name}: must be a finite number, got {value}")
        return None

    def _note_best(self, epoch: int, values: dict[str, float]) -> None:
        if "val_loss" not in values and "val_acc" not in values:
            return
        if self._val_epoch != epoch:  # an epoch's val_loss and val_acc may come in two calls
            self._val_epoch, self._val = epoch, {}
        self._val.update({name: values[name] for name in ("val_loss", "val_acc") if name in values})
        loss, acc = self._val.get("val_loss"), self._val.get("val_acc")
        if loss is not None and (self._by_loss is None or loss < self._by_loss[1]
                                 or (self._by_loss[0] == epoch and loss == self._by_loss[1])):
            self._by_loss = (epoch, loss, acc)
        if acc is not None and (self._by_acc is None or acc > self._by_acc[1]
                                or (self._by_acc[0] == epoch and acc == self._by_acc[1])):
            self._by_acc = (epoch, acc)

    def take(self) -> tuple[list[MetricRow], ScriptProgress]:
        """The rows to store now (the buffer empties) and the trial's progress with them."""
        rows, self.rows = self.rows, []
        return rows, self.progress()

    def give_back(self, rows: list[MetricRow]) -> None:
        """Rows a failed write could not store: they go first in the next one."""
        self.rows[:0] = rows

    def progress(self) -> ScriptProgress:
        epochs = self.epoch or 0
        if self._by_loss is not None:
            return ScriptProgress(epochs, self.step, *self._by_loss)
        if self._by_acc is not None:
            return ScriptProgress(epochs, self.step, self._by_acc[0], None, self._by_acc[1])
        return ScriptProgress(epochs, self.step)
