"""The learning-rate probe in a one-shot child process, for the cockpit.

The cockpit must not import torch for a probe (on a GPU box it would hold a CUDA context), must not
go down with a plugin that crashes its interpreter, and must keep its own torch threads and random
state. So the probe runs in a spawned child (as a foreground `tunedeck run` trains in one, isolated.py):
the child streams the ramp's points back in batches over a pipe and ends with the finding or one line
saying why there is none; a child that dies says how it ended (child_end.how_it_ended). `stop` kills it.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from typing import Any

from engine.config.groups import Config
from engine.errors import TunedeckError
from engine.execution.child_end import exit_now, how_it_ended
from engine.training.lr_probe import LrFinding, ProbePoint, ProbeSettings

_CONTEXT = multiprocessing.get_context("spawn")
BATCH_SECONDS = 0.1  # the child sends the points it has at most this often
POLL_SECONDS = 0.05


class ProbeChild:
    """A child process running `run_probe(config, settings)`; `points` grows as its batches are read (`pump`)."""

    def __init__(self, config: Config, settings: ProbeSettings) -> None:
        _start_resource_tracker()
        self._conn, child_conn = _CONTEXT.Pipe(duplex=False)
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # inherited by the child
        try:
            self.process = _CONTEXT.Process(target=child_main, daemon=True, name="tunedeck-lr-probe",
                                            args=(child_conn, config.to_dict(), settings, os.getcwd()))
            self.process.start()
        finally:
            if main and previous is not None:
                signal.signal(signal.SIGINT, previous)
        child_conn.close()
        self.points: list[ProbePoint] = []
        self.finding: LrFinding | None = None
        self.error: str | None = None

    @property
    def done(self) -> bool:
        return self.finding is not None or self.error is not None

    def pump(self, wait: float = POLL_SECONDS) -> bool:
        """Read what the child sent within `wait` seconds; False once it has ended (finding or error set)."""
        if self.done:
            return False
        try:
            if not self._conn.poll(wait):
                if self.process.is_alive():
                    return True
                if not self._conn.poll(0):  # gone without a word
                    raise EOFError
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            self.process.join(5.0)
            self.error = (f"the probe's process (pid {self.process.pid}) {how_it_ended(self.process.exitcode)} "
                          f"after {len(self.points)} step(s)")
            return False
        if kind == "points":
            self.points.extend(ProbePoint(*p) for p in payload)
        elif kind == "finding":
            self.finding = payload
        else:
            self.error = str(payload)
        return not self.done

    def run(self, cancel: threading.Event) -> LrFinding | str:
        """Pump until the child ends or `cancel` is set (then kill it): the finding, or why there is none."""
        while self.pump():
            if cancel.is_set():
                self.stop()
                return "stopped"
        return self.finding if self.finding is not None else str(self.error)

    def stop(self) -> None:
        """Kill the child if it still runs, and wait for it (a new probe never overlaps an old one)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5.0)
        self._conn.close()


def _start_resource_tracker() -> None:
    """multiprocessing's resource tracker, started with a real stderr: inside a running Textual app
    sys.stderr is an object whose fileno() is -1, and the tracker started then fails with "bad value(s)
    in fds_to_keep" (trainer_process.prepare_multiprocessing starts it early for the same reason)."""
    from multiprocessing import resource_tracker

    saved = sys.stderr
    try:
        if sys.__stderr__ is not None and _fileno(saved) < 0:
            sys.stderr = sys.__stderr__
        resource_tracker.ensure_running()
    finally:
        sys.stderr = saved


def _fileno(stream: Any) -> int:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return -1


def child_main(conn: multiprocessing.connection.Connection, config_data: dict[str, Any],
               settings: ProbeSettings, cwd: str) -> None:
    """Run the probe, sending its points in batches, then the finding or the error line; end at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getcwd() != cwd:
        os.chdir(cwd)  # plugins resolve from the working directory, as in the parent
    from engine.training.lr_probe import run_probe

    points = _Streamed(conn)
    try:
        finding = run_probe(Config.from_dict(config_data), settings, points=points)
    except TunedeckError as exc:
        points.flush()
        _send(conn, ("error", str(exc)))
    except Exception as exc:  # our own bug: one line, as the cockpit shows it
        points.flush()
        _send(conn, ("error", f"{type(exc).__name__}: {exc}"))
    else:
        points.flush()
        _send(conn, ("finding", finding))
    exit_now(0)


class _Streamed(list):
    """The probe's `points` list: each append is also sent to the parent, in batches."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        super().__init__()
        self._conn = conn
        self._pending: list[tuple[float, float, float]] = []
        self._sent_at = time.monotonic()

    def append(self, point: ProbePoint) -> None:
        super().append(point)
        self._pending.append((point.lr, point.loss, point.smoothed))
        if time.monotonic() - self._sent_at >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            _send(self._conn, ("points", self._pending))
        self._pending = []
        self._sent_at = time.monotonic()


def _send(conn: multiprocessing.connection.Connection, message: tuple) -> None:
    try:
        conn.send(message)
    except (OSError, ValueError):  # the parent is gone: nothing to tell
        exit_now(0)
