"""What a launched script writes: metrics in its stdout lines, the tail of its stderr, both kept in log files.

A script that does not import tunedeck reports through stdout, in lines holding `key: value` or
`key=value` pairs with numeric values (`epoch: 3  val_loss: 0.31`, `train_loss=0.5, val_loss=0.4`).
`MetricLines` turns them into epochs:

- a script that prints `epoch` numbers its epochs itself: a line with `epoch` opens that epoch (and
  ends the one before), and metric lines after it belong to it, so `epoch: 1` / `val_loss: 0.3` on
  two lines is one epoch. An epoch is recorded when the next one opens, when stdout ends, or
  QUIET_SECONDS after its last metric line (so that a pruner judges it while the next one trains);
  a metric printed after that still joins it, unless it holds that metric already;
- a script that never prints `epoch`: each line holding one of the standard metrics (train_loss,
  val_loss, val_acc, lr, epoch_seconds) is an epoch of its own, numbered after the last.

Other lines are only output (kept in the log file). `step` names the global step an epoch ended at (by
default the last one named, else 0). The values are recorded as `run.log` records them (the executor
feeds them to the same Logbook): a loss that is NaN or infinite ends the trial `diverged`.
"""
from __future__ import annotations

import collections
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

QUIET_SECONDS = 1.0
STANDARD_METRICS = frozenset({"train_loss", "val_loss", "val_acc", "lr", "epoch_seconds"})
EPOCH_KEY, STEP_KEY = "epoch", "step"
TAIL_LINES, TAIL_BYTES = 50, 8192
_LINE_BYTES = 64 * 1024  # a longer line (a progress bar redrawn with \r) is cut, not held whole
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_PAIR = re.compile(rf"(?<![\w./-])([A-Za-z_][\w./-]*)\s*[:=]\s*({_NUMBER})(?![\w.])", re.IGNORECASE)


def metric_pairs(line: str) -> dict[str, float]:
    """The `key: value` / `key=value` pairs of a line (numeric values only); the last of a repeated key wins."""
    return {key: float(value) for key, value in _PAIR.findall(line)}


@dataclass
class LineEpoch:
    epoch: int
    step: int | None = None
    values: dict[str, float] = field(default_factory=dict)
    last_line: float = 0.0  # monotonic time of the last metric line that added to it


class MetricLines:
    """Stdout lines in, finished epochs out; fed from one thread.

    Once a script has printed an epoch line it numbers its epochs itself: a metric line then always
    joins the current epoch, even after that was recorded (QUIET_SECONDS passed): a validation loss
    printed long after the training loss is recorded into the same epoch, never into a new one, and a
    metric it already recorded (a loss printed every step) is not recorded twice.
    """

    def __init__(self, quiet: float = QUIET_SECONDS) -> None:
        self.quiet = quiet
        self._open: LineEpoch | None = None
        self._numbered = False  # the script prints epoch lines
        self._last = 0  # the last epoch recorded
        self._recorded: set[str] = set()  # the metrics recorded of it so far

    def feed(self, line: str, now: float | None = None) -> list[LineEpoch]:
        """The epochs this line completes (usually none or one)."""
        now = time.monotonic() if now is None else now
        pairs = {k.lower() if k.lower() in (EPOCH_KEY, STEP_KEY) else k: v for k, v in metric_pairs(line).items()}
        epoch = _whole(pairs.pop(EPOCH_KEY, None))
        step = _whole(pairs.pop(STEP_KEY, None))
        done: list[LineEpoch] = []
        if epoch is not None:
            self._numbered = True
            if self._open is not None and self._open.epoch != epoch:
                done += self._close()
            if self._open is None:
                self._open = LineEpoch(epoch)
        elif self._open is None:
            if self._numbered:  # the rest of the epoch recorded last, if it holds something new
                pairs = {k: v for k, v in pairs.items() if k not in self._recorded}
                if not pairs or not self._last:
                    return done
                self._open = LineEpoch(self._last)
            elif pairs.keys() & STANDARD_METRICS:
                self._open = LineEpoch(self._last + 1)
            else:
                return done
        current = self._open
        if step is not None:
            current.step = step
        if pairs:
            current.values.update(pairs)
            current.last_line = now
        if not self._numbered:
            done += self._close()  # a line of its own is a whole epoch
        return done

    def due(self, now: float | None = None) -> list[LineEpoch]:
        """The open epoch, once QUIET_SECONDS passed since its last metric line."""
        now = time.monotonic() if now is None else now
        if self._open is not None and self._open.values and now - self._open.last_line >= self.quiet:
            return self._close()
        return []

    def close(self) -> list[LineEpoch]:
        """Stdout ended: the open epoch, if it holds any metric."""
        return self._close()

    def _close(self) -> list[LineEpoch]:
        current, self._open = self._open, None
        if current is None or not current.values:
            return []
        if current.epoch != self._last:
            self._recorded = set()
        self._recorded |= current.values.keys()
        self._last = current.epoch
        return [current]


def _whole(value: float | None) -> int | None:
    if value is None or not math.isfinite(value) or not value.is_integer() or value < 0:
        return None
    return int(value)


class StderrTail:
    """The last TAIL_LINES lines (at most TAIL_BYTES) of what a script wrote to stderr; thread-safe."""

    def __init__(self, lines: int = TAIL_LINES, limit: int = TAIL_BYTES) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=lines)
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line.rstrip("\n"))

    def text(self) -> str:
        with self._lock:
            text = "\n".join(self._lines)
        if len(text.encode()) > self._limit:
            text = "..." + text.encode()[-self._limit:].decode("utf-8", "replace")
        return text


def pump(stream: IO[bytes], log_path: Path, on_line: Callable[[str], None]) -> threading.Thread:
    """Read a pipe line by line in a thread of its own, appending each line to `log_path` and handing it on.

    The thread ends when the pipe closes (the script and whatever it started have let go of it).
    """

    def read() -> None:
        try:
            with open(log_path, "ab") as log:
                while True:
                    raw = stream.readline(_LINE_BYTES)
                    if not raw:
                        return
                    log.write(raw)
                    log.flush()
                    on_line(raw.decode("utf-8", "replace"))
        except (OSError, ValueError):  # the pipe was closed under us (the executor gave up waiting)
            return
        finally:
            stream.close()

    thread = threading.Thread(target=read, daemon=True, name=f"tunedeck-script-{log_path.stem}")
    thread.start()
    return thread
