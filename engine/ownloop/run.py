"""`tunedeck.init()`: a trial recorded by the user's own training script.

    with tunedeck.init(config={"optim.lr": 1e-3, "hidden": 64}) as run:
        for epoch in range(1, run.config["optim.max_epochs"] + 1):
            for step, batch in ...:
                run.log(step=step, loss=loss.item())
            run.log(epoch=epoch, train_loss=..., val_loss=..., val_acc=...)
            if run.should_stop():
                break

Launched by tunedeck (`$TUNEDECK_TRIAL` names a handoff, engine/ownloop/protocol.py) the run records
into that trial and `run.config` holds its values; run by hand it records a new trial into
`$TUNEDECK_STORE` or `./tunedeck.db`. How it ends:

- the `with` block ends: `completed`; it raises: `failed` with the traceback (re-raised); Ctrl+C:
  `cancelled`. A stop requested from outside, or a loss that became NaN, sets `should_stop()`, and
  the trial ends with that state (`cancelled`, `pruned`, `diverged`) and reason.
- without `with`: `run.finish()`, or the script just returns: an atexit hook finishes it then, as
  `completed` (`failed` with the traceback when an uncaught exception ends the interpreter).
- killed (SIGTERM, SIGKILL): no handler is installed; the trial's row names this process, so the
  launcher (or the next open of the store) records it `interrupted`.

Writes are batched: `log()` only appends to memory (a step's finite float loss to a deque, without
a lock; anything else, checked, under the lock); a flusher thread commits what came in at most
once a second (with the heartbeat), reads the stop request, and `finish()` flushes the rest.
Nothing here imports torch or a UI library; `save()` imports torch (through the checkpoint files'
helpers, engine/execution/checkpoints.py).
"""
from __future__ import annotations

import atexit
import os
import platform
import shutil
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

from engine.errors import TunedeckError
from engine.events import Summary, TrialFinished
from engine.ownloop.logbook import STEP_LOSS_KEY, Logbook
from engine.ownloop.protocol import TRIAL_VAR, Handoff
from engine.ownloop.run_config import build_config, launched_config, run_values, script_path, split_defaults
from engine.states import TrialState
from engine.store import Store, resolve_store_path
from engine.store.liveness import HEARTBEAT_SECONDS
from engine.store.script_runs import ScriptProgress
from engine.tasks.plugin_code import file_record

FLUSH_SECONDS = 1.0  # at most one commit this often while the script logs
CHECKPOINT_KINDS = ("best", "last")


class Run:
    """One trial recorded by a script; thread-safe. Build it with `tunedeck.init()`."""

    def __init__(self, store: Store, trial_id: int, config: dict[str, Any], *, handoff: Handoff | None = None) -> None:
        self.store = store
        self.trial_id = trial_id
        self.config = config
        self.handoff = handoff
        self.commits = 0  # write transactions of the flusher and of finish (what batching keeps low)
        self._book = Logbook()
        self._steps: deque[tuple[int, int, float]] = deque()  # (epoch in progress, step, loss) of the hot path
        self._epoch_now = 1  # the epoch in progress, as the hot path tags its step losses
        self._lock = threading.Lock()  # the logbook and the stop
        self._flush_lock = threading.Lock()  # one flush at a time, so batches are stored in order
        self._end_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._stop: tuple[TrialState, str] | None = None
        self._finished: TrialState | None = None
        self._stored = ScriptProgress()
        self._started = time.perf_counter()
        self._last_commit = time.monotonic()
        self._done = threading.Event()
        self._last_before = getattr(sys, "last_value", None)  # an interactive session's earlier error is not ours
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True, name=f"tunedeck-run-{trial_id}")
        self._flusher.start()
        atexit.register(self._at_exit)

    def __repr__(self) -> str:
        return f"Run(trial {self.trial_id} in {self.store.path})"

    # -- what the script calls -------------------------------------------------------------------

    def log(self, epoch: int | None = None, step: int | None = None, loss: Any = None, **metrics: Any) -> None:
        """`log(epoch=N, **metrics)`: an epoch's metrics, any names; `log(step=N, loss=x)`: a step's loss.

        A value that is not a finite number raises LogError naming it, except a loss that is NaN or
        infinite: that ends the trial `diverged` (`should_stop()` turns true), as tunedeck's loop does.
        """
        if (epoch is None and not metrics and type(loss) is float and type(step) is int and step >= 0
                and loss - loss == 0.0 and self._finished is None):  # finite: inf - inf and nan - nan are nan
            self._steps.append((self._epoch_now, step, loss))  # the hot path: no lock (deque.append is atomic)
            return
        if loss is not None:
            metrics = {STEP_LOSS_KEY: loss, **metrics}
        with self._lock:
            if self._finished is not None:
                raise RuntimeError(f"run.log: trial {self.trial_id} already ended {self._finished.value}")
            self._drain()
            diverged = self._book.add(epoch, step, metrics)
            self._epoch_now = (self._book.epoch or 0) + 1
            if diverged is not None and self._stop is None:
                self._stop = (TrialState.DIVERGED, diverged.reason)

    def _drain(self) -> None:
        """Move the hot path's step losses into the logbook, in the order they came (under the lock)."""
        steps = self._steps
        if steps:
            self._book.add_step_losses([steps.popleft() for _ in range(len(steps))])

    def should_stop(self) -> bool:
        """True once the trial was stopped from outside (the user, a sweep's pruner) or its loss diverged."""
        return self._stop is not None

    @property
    def stop_state(self) -> TrialState | None:
        return self._stop[0] if self._stop is not None else None

    @property
    def stop_reason(self) -> str | None:
        return self._stop[1] if self._stop is not None else None

    def save(self, obj_or_path: Any, name: str = "best") -> Path:
        """Keep a checkpoint with the trial: a file's path is copied, anything else is `torch.save`d,
        atomically into the trial's artifacts folder, and recorded with its size and sha256. `name`
        is its kind: `best` replaces the trial's best; `last` is kept with the one before it."""
        if name not in CHECKPOINT_KINDS:
            raise ValueError(f"run.save: name: must be 'best' or 'last', got {name!r}")
        from engine.execution.checkpoints import (
            LAST_KEPT,
            _HashingFile,
            _write_atomically,
            remove_checkpoint,
            write_atomically,
        )

        source = Path(obj_or_path) if isinstance(obj_or_path, (str, os.PathLike)) else None
        if source is not None and not source.is_file():
            raise FileNotFoundError(f"run.save: {source}: no such file")
        suffix = (source.suffix if source is not None else "") or ".pt"
        with self._save_lock:
            with self._lock:
                self._drain()
                epoch = self._book.epoch or 0
            folder = self.store.artifacts / str(self.trial_id)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / (f"last-{epoch}{suffix}" if name == "last" else f"best{suffix}")
            if source is None:
                size, sha = _write_atomically(path, obj_or_path)
            else:
                hashing: list[_HashingFile] = []

                def copy(fh: Any) -> None:
                    hashing.append(_HashingFile(fh))
                    with open(source, "rb") as src:
                        shutil.copyfileobj(src, hashing[0], 1 << 20)

                write_atomically(path, copy)
                size, sha = hashing[0].size, hashing[0].sha.hexdigest()
            for record in self.store.checkpoints(self.trial_id, name):
                if record.path == path:  # the file was just rewritten: its old record goes, not the file
                    self.store.forget_checkpoint(record.id)
                elif name == "best":  # a best of another suffix leaves no file behind
                    remove_checkpoint(self.store, record)
            self.store.record_checkpoint(self.trial_id, name, path, epoch, size, sha)
            if name == "last":
                for record in self.store.checkpoints(self.trial_id, name)[LAST_KEPT:]:
                    remove_checkpoint(self.store, record)
        return path

    def finish(self, state: TrialState | str | None = None, reason: str | None = None) -> None:
        """Store what is left and end the trial: `state` if given, else the stop's state (a stop
        request, a diverged loss), else `completed`. Later calls do nothing."""
        self._end(_final_state(state) if state is not None else None, reason, None)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.finish()
        else:
            self._end(*self._failure(exc))

    # -- how it ends -------------------------------------------------------------------------------

    def _failure(self, exc: BaseException) -> tuple[TrialState | None, str | None, str | None]:
        """How an exception that ends the script ends its trial: (state, reason, traceback)."""
        with self._lock:
            self._drain()
            where = f"at epoch {(self._book.epoch or 0) + 1}, step {self._book.step}"
        if isinstance(exc, KeyboardInterrupt):
            return TrialState.CANCELLED, f"stopped by Ctrl+C {where}", None
        if isinstance(exc, SystemExit):
            if exc.code in (0, None):
                return None, None, None
            return TrialState.FAILED, f"the script exited with status {exc.code} {where}", None
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return TrialState.FAILED, f"{type(exc).__name__}: {exc}", text

    def _end(self, state: TrialState | None, reason: str | None, error: str | None) -> None:
        with self._end_lock:
            if self._finished is not None:
                return
            self._done.set()
            self._flusher.join()
            try:
                self._flush()
                with self._lock:
                    final, why = self._outcome(state, reason)
                    self._finished = final
                    book = self._book
                    progress = book.progress()
                    summary = Summary(progress.best_epoch, progress.best_val_loss, progress.val_acc_at_best,
                                      book.tests.get("test_loss"), book.tests.get("test_acc"), progress.epochs_run,
                                      progress.steps)  # max_val_acc: the store keeps it as the rows come in
                self.store.record(self.trial_id, TrialFinished(final, why, summary,
                                                               time.perf_counter() - self._started, error))
                self.commits += 1
            finally:
                self._finished = self._finished or TrialState.INTERRUPTED
                atexit.unregister(self._at_exit)
                self.store.close()

    def _outcome(self, state: TrialState | None, reason: str | None) -> tuple[TrialState, str]:
        if state is not None:
            return state, reason or f"the script ended it {state.value}"
        if self._stop is not None:
            return self._stop[0], reason or self._stop[1]
        if reason:
            return TrialState.COMPLETED, reason
        progress = self._book.progress()
        epochs = f"{progress.epochs_run} epoch{'s' if progress.epochs_run != 1 else ''}"
        if progress.best_val_loss is not None:
            best = f"; best val_loss {progress.best_val_loss:.4g} at epoch {progress.best_epoch}"
        elif progress.val_acc_at_best is not None:  # no val_loss: the best epoch is the most accurate one
            best = f"; best val_acc {progress.val_acc_at_best:.4f} at epoch {progress.best_epoch}"
        else:
            best = ""
        return TrialState.COMPLETED, f"the script ended after {epochs}{best}"

    def _at_exit(self) -> None:
        """The interpreter exits with the trial unfinished: the script returned (completed) or an
        uncaught exception ended it (failed, with its traceback)."""
        last = getattr(sys, "last_value", None)
        try:
            if isinstance(last, BaseException) and last is not self._last_before:
                self._end(*self._failure(last))
            else:
                self.finish()
        except TunedeckError as exc:
            print(f"tunedeck: trial {self.trial_id}: its end was not recorded: {exc}", file=sys.stderr)

    # -- the flusher -------------------------------------------------------------------------------

    def _flush_loop(self) -> None:
        while not self._done.wait(FLUSH_SECONDS):
            with suppress(TunedeckError):  # a store busy past its timeout: the rows wait for the next tick
                self._flush()

    def _flush(self) -> None:
        """Commit what was logged since the last flush (or only the heartbeat, when it is due), and
        read whether the trial was asked to stop."""
        with self._flush_lock:
            with self._lock:
                self._drain()
                rows, progress = self._book.take()
            now = time.monotonic()
            if rows or progress != self._stored:
                try:
                    self.store.log_script(self.trial_id, rows, progress)
                except BaseException:
                    with self._lock:
                        self._book.give_back(rows)
                    raise
                self._stored, self._last_commit = progress, now
                self.commits += 1
            elif now - self._last_commit >= HEARTBEAT_SECONDS:
                self.store.beat(self.trial_id)
                self._last_commit = now
                self.commits += 1
            request = self.store.stop_request(self.trial_id)
        if request is not None:
            with self._lock:
                if self._stop is None:
                    self._stop = request


def _final_state(state: TrialState | str) -> TrialState:
    try:
        final = TrialState(state)
    except ValueError:
        final = None
    if final is None or not final.is_finished:
        ends = ", ".join(s.value for s in TrialState if s.is_finished)
        raise ValueError(f"run.finish: state: must be one of {ends}, got {state!r}")
    return final


def _environment(script: str) -> dict[str, Any]:
    """The versions, host and script (its sha256) behind the trial, as tunedeck's own loop records them,
    without importing torch."""
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    env: dict[str, Any] = {"tunedeck": version("tunedeck") or "0+unknown", "torch": version("torch"),
                           "python": platform.python_version(), "platform": platform.platform(),
                           "hostname": socket.gethostname(), "pid": os.getpid()}
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
    if os.path.isfile(script):
        env["code"] = file_record(script)
    return env


def init(config: Mapping[str, Any] | None = None, name: str | None = None) -> Run:
    """Start recording this script's trial.

    `config`: the script's defaults: tunedeck's knobs by their dotted names (`optim.lr`), checked by
    their rules, and the script's own knobs by any other name (an int, float, bool, str or list of
    ints); a bad one raises a one-line ConfigError. `run.config` holds every knob, with the trial's
    values when tunedeck launched the script. `name`: the trial's name when run by hand (default:
    the script's file name).
    """
    script = script_path()
    defaults = split_defaults(config, script)
    given = dict(config or {})
    handoff_file = os.environ.get(TRIAL_VAR)
    run_info: dict[str, Any] = {"script": script, "argv": sys.argv[1:]}
    if handoff_file:
        handoff = Handoff.read(handoff_file)
        trial_config = launched_config(handoff.config, Path(handoff_file))
        store = Store(handoff.store)
        trial_id = handoff.trial_id
    else:
        trial_config = build_config(name or Path(script).name, script, defaults)
        store = Store(resolve_store_path(None))
        handoff = None
    try:
        if handoff is None:
            trial_id = store.create_trial(trial_config)
        store.take_trial(trial_id, _environment(script), run_info)
    except BaseException:
        store.close()
        raise
    return Run(store, trial_id, {**given, **run_values(trial_config)}, handoff=handoff)
