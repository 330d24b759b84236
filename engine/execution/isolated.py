"""One trial in a one-shot child process, for the foreground `tunedeck run`.

The child builds the trial (data, model, optimizer: the plugin's code runs there), says whether that
worked, then trains the trial the parent recorded and streams its events back in batches. A plugin
that calls `os._exit` or crashes the interpreter takes the child down, not the CLI: the parent records
the trial `failed` with the exit code or signal. Input that cannot run (a TunedeckError while building)
comes back as an error before any trial is recorded, as it did when the CLI built the trial itself.

The parent never imports torch: the child's `import torch` replaces the one the CLI did, so the
start-up costs about the same (one more interpreter and our own modules).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config.groups import Config
from engine.errors import StoreBusyError, StoreFault, StoreReadOnlyError, TunedeckError
from engine.events import EpochEnded, Event, StopSignal, Summary, TrialFinished, TrialStarted
from engine.execution.child_end import exit_now, how_it_ended
from engine.states import TrialState

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.store import Store

_CONTEXT = multiprocessing.get_context("spawn")
POLL_SECONDS = 0.05
UNFINISHED = "stopped before the trial finished (its runner was interrupted)"


class IsolatedTrial:
    """A child process that builds `config`'s trial now and trains it when `run` is called.

    Use it as a context manager: leaving it (a second Ctrl+C, an error) ends the child if it still runs.
    """

    def __init__(self, store_path: Path, config: Config) -> None:
        self._conn, child_conn = _CONTEXT.Pipe(duplex=True)
        # The child ignores Ctrl+C from its first instruction (the terminal sends it to the whole process
        # group; the parent turns it into a clean cancel): an interpreter started with SIGINT ignored keeps
        # it ignored.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self.process = _CONTEXT.Process(target=child_main, daemon=True, name="tunedeck-trainer",
                                            args=(child_conn, config.to_dict(), str(Path(store_path).resolve()),
                                                  os.getcwd()))
            self.process.start()
        finally:
            if main and previous is not None:
                signal.signal(signal.SIGINT, previous)
        child_conn.close()
        self._died_preparing: str | None = None
        self._trial_id: int | None = None
        self._store: Store | None = None
        self._finished = False

    def __enter__(self) -> IsolatedTrial:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prepare(self) -> None:
        """Wait until the child has built the trial; a TunedeckError when its input cannot run (nothing is
        recorded then). A child that dies here is reported by `run`, as the trial's failure."""
        message = self._next()
        if message is None:
            self._died_preparing = self._how_it_ended("while it built the trial")
        elif message[0] == "rejected":
            raise TunedeckError(message[1])

    def run(self, store: Store, trial_id: int, cancel: threading.Event,
            sink: Callable[[list[Event]], None]) -> TrialFinished:
        """Train the recorded trial `trial_id` in the child; its events reach `sink` in batches. The trial's
        end: as the loop recorded it, or `failed` with how the child died."""
        self._store, self._trial_id = store, trial_id
        if self._died_preparing is not None:
            return self._record_death(self._died_preparing, sink)
        self._send(("run", trial_id))
        finished: TrialFinished | None = None
        cancel_sent = False
        while True:
            if cancel.is_set() and not cancel_sent:
                self._send(("cancel",))
                cancel_sent = True
            message = self._next(wait=False)
            if message is None:
                if self.process.is_alive():
                    continue
                return self._record_death(self._how_it_ended("while the trial ran"), sink)
            if message[0] == "events":
                batch: list[Event] = message[1]
                finished = next((e for e in batch if isinstance(e, TrialFinished)), finished)
                sink(batch)
            elif message[0] == "start":  # the trial is held by this process, the one the user sees and stops
                store.start_trial(trial_id, message[1], message[2])
                self._send(("claimed",))
            elif message[0] == "fault":  # the store failed the trial: it ends interrupted, resumable
                from engine.store.trials import STORE_FAILED

                fault = _FAULTS.get(message[1], StoreFault)(message[2])
                store.mark_finished(trial_id, TrialState.INTERRUPTED, f"{STORE_FAILED}: {fault}")
                self._finished = True
                raise fault
            elif message[0] == "done":
                assert finished is not None  # the loop always ends with a TrialFinished, sent before "done"
                self._finished = True
                return finished

    def close(self) -> None:
        """End the child if it still runs; a trial it left unfinished is recorded cancelled."""
        if self.process.is_alive():
            self._send(("exit",))
            self.process.join(0.5 if self._finished else 0.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5.0)
        self._conn.close()
        if self._store is not None and self._trial_id is not None and not self._finished:
            self._store.mark_finished(self._trial_id, TrialState.CANCELLED, UNFINISHED)
            self._finished = True

    def _next(self, wait: bool = True) -> Any:
        """The child's next message; None once it is gone (with `wait`, only then; else also after a poll)."""
        while True:
            try:
                if self._conn.poll(POLL_SECONDS):
                    return self._conn.recv()
            except (EOFError, OSError):
                self.process.join(5.0)
                return None
            if not wait or not self.process.is_alive():
                return None

    def _send(self, message: tuple) -> None:
        try:
            self._conn.send(message)
        except (OSError, ValueError):  # the child is gone: the next receive says so
            pass

    def _how_it_ended(self, when: str) -> str:
        self.process.join(5.0)
        return f"the trainer process (pid {self.process.pid}) {how_it_ended(self.process.exitcode)} {when}"

    def _record_death(self, reason: str, sink: Callable[[list[Event]], None]) -> TrialFinished:
        assert self._store is not None and self._trial_id is not None
        self._store.mark_finished(self._trial_id, TrialState.FAILED, reason)
        self._finished = True
        finished = TrialFinished(TrialState.FAILED, reason, Summary.of(self._store.trial(self._trial_id)), 0.0)
        sink([finished])
        return finished


_FAULTS: dict[str, type[StoreFault]] = {cls.__name__: cls for cls in (StoreFault, StoreBusyError, StoreReadOnlyError)}



def child_main(conn: multiprocessing.connection.Connection, config_data: dict[str, Any], store_path: str,
               cwd: str) -> None:
    """Build the trial, report, train it when told, stream its events; end without the interpreter's
    teardown (with torch loaded it takes a second that the CLI would wait for)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getcwd() != cwd:
        os.chdir(cwd)  # plugins resolve from the working directory, as in the parent
    from engine.training.loop import Setup, prepare

    config = Config.from_dict(config_data)
    setup: Setup | None = None
    failed: TrialFinished | None = None
    started = time.monotonic()
    try:
        setup = prepare(config)
    except TunedeckError as exc:  # input that cannot run: the parent says so and records nothing
        _send(conn, ("rejected", str(exc)))
        exit_now(0)
    except Exception as exc:  # the plugin's own code raised: the trial records it, built once only
        failed = TrialFinished(TrialState.FAILED, f"{type(exc).__name__}: {exc}", Summary(),
                               time.monotonic() - started, traceback.format_exc())
    _send(conn, ("prepared",))
    try:
        message = conn.recv()
    except (EOFError, OSError):
        exit_now(0)
    if message[0] != "run":
        exit_now(0)
    cancel = StopSignal()
    claims: queue.Queue = queue.Queue()
    threading.Thread(target=_listen, args=(conn, cancel, claims), daemon=True, name="tunedeck-control").start()
    try:
        _train(conn, Path(store_path), int(message[1]), config, cancel, claims, setup, failed)
    except StoreFault as exc:  # the disk, the lock or permissions: the parent reports it, no traceback
        _send(conn, ("fault", type(exc).__name__, str(exc)))
        exit_now(0)
    _send(conn, ("done",))
    exit_now(0)


def _train(conn: multiprocessing.connection.Connection, store_path: Path, trial_id: int, config: Config,
           cancel: StopSignal, claims: queue.Queue, setup: Any, failed: TrialFinished | None) -> None:
    from engine.execution.executors import Batcher
    from engine.execution.runner import TrialRun
    from engine.store import Store

    batcher = Batcher(lambda batch: _send(conn, ("events", batch)))

    def claim(started: TrialStarted, env: dict[str, Any]) -> None:
        _send(conn, ("start", started, env))
        claims.get()  # recorded by the parent (or it is gone) before this trial writes anything else

    with Store(store_path) as store:
        run = TrialRun(store, config, cancel=cancel, setup=setup, failed=failed, trial_id=trial_id, claim=claim)
        try:
            for event in run:
                batcher.add(event)
                if isinstance(event, (TrialStarted, EpochEnded)):
                    batcher.flush()  # its line shows at once, and is not lost if the plugin crashes next
        finally:
            batcher.flush()


def _listen(conn: multiprocessing.connection.Connection, cancel: StopSignal, claims: queue.Queue) -> None:
    """Relay the parent's cancel and its answers; a parent that is gone interrupts the trial at its next batch."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            cancel.stop(TrialState.INTERRUPTED, "its trainer's parent process ended")
            claims.put(None)
            return
        if message[0] == "claimed":
            claims.put(True)
        elif message[0] == "cancel":
            cancel.stop()
        elif message[0] == "exit":
            exit_now(0)


def _send(conn: multiprocessing.connection.Connection, message: tuple) -> None:
    try:
        conn.send(message)
    except (OSError, ValueError):  # the parent is gone: the listener has seen it too
        pass
