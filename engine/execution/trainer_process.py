"""The process executor: warm child processes that train trials and stream batched events back.

A child (engine.execution.trainer_child) imports torch and builds one optimizer when it starts
(2.7-2.8 s from spawn to ready on a busy 2-core box: `import torch` about 0.8 s, torch's
first-optimizer import of torch._dynamo about 0.85 s, the interpreter and our own modules the
rest), then trains trial after trial, so only the first trial waits for that. The parent's
worker thread supervises each run: it forwards event batches, relays a cancel, and turns a child that
dies into a failed trial, leaving the app and the other trials running.

Fresh code: a child keeps the plugin modules it imported, so before it gets another trial the parent
hashes the plugin files the child reported after its last trial and retires it when one changed on
disk (or when the next trial comes from another working directory, where a plugin's name may
resolve to another file); the trial then starts in a new child that imports the edited code.
"""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.events import Event, StopSignal, Summary, TrialFinished
from engine.execution.executors import Judge, Sink, ask_judge
from engine.execution.placement import Gpu, Placement
from engine.execution.trainer_child import PARENT_GONE_GRACE, child_main
from engine.states import TrialState
from engine.tasks.plugin_code import changed_files

__all__ = ["PARENT_GONE_GRACE", "POLL_SECONDS", "ProcessExecutor", "prepare_multiprocessing"]

_CONTEXT = multiprocessing.get_context("spawn")
POLL_SECONDS = 0.05
_SPAWNING = threading.Lock()


def prepare_multiprocessing() -> None:
    """Start multiprocessing's resource tracker now, while stderr is still a real file.

    Textual replaces sys.stderr with an object whose fileno() is -1, and the tracker started
    later from inside a running app fails with "bad value(s) in fds_to_keep".
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


# A trainer ended by one of these was stopped from outside (kill, the OOM killer, a shutdown): the
# trial is interrupted and can resume from its checkpoint. A crash of its own (SIGSEGV, an abort, a
# non-zero exit) fails it.
_KILLED_FROM_OUTSIDE = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT})


class _Worker:
    def __init__(self, log_path: str | None, env: dict[str, str], gpu: Gpu | None = None,
                 share: float | None = None) -> None:
        self.gpu = gpu
        self.share = share  # the part of `gpu` it was placed for (`run.gpus_per_trial`); None: not placed
        # The plugin files the child has imported and their hashes, as it reported after its last trial
        # (None: it could not tell), and the working directory that trial ran in.
        self.code: dict[str, str | None] | None = {}
        self.cwd: str | None = None
        self._stopping = threading.Lock()
        self._stopped = False
        if gpu is not None:
            env = {**env, **Placement.env_for(gpu)}
        self.conn, child_conn = _CONTEXT.Pipe(duplex=True)
        with _SPAWNING:  # two spawns at once (two trainers re-placed for a trial's share) would mix their env
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)  # a spawned child takes the environment as it is at start()
            try:
                self.process = _CONTEXT.Process(target=child_main, args=(child_conn, log_path), daemon=True,
                                                name="tunedeck-trainer")
                self.process.start()
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
        child_conn.close()

    def wait_ready(self, timeout: float) -> bool:
        """Block until the child has imported torch and says so; False on timeout or death."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.conn.poll(POLL_SECONDS):
                    return self.conn.recv()[0] == "ready"
            except (EOFError, OSError):
                return False
        return False

    def stale_reason(self, cwd: str) -> str | None:
        """Why this child must not run the next trial (from `cwd`): code it imported changed; else None."""
        if self.code is None:
            return "it could not tell which plugin code it had imported"
        if not self.code:
            return None
        if self.cwd != cwd:
            return f"it imported plugin code from {self.cwd}, the next trial runs in {cwd}"
        changed = changed_files(self.code)
        return f"plugin code it imported changed on disk: {', '.join(changed)}" if changed else None

    def ask_to_exit(self) -> None:
        try:
            self.conn.send(("exit",))
        except (OSError, ValueError):
            pass

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the child to exit, kill it after `timeout`, close the pipe; safe from two threads at once
        (a shutdown racing a run that saw its child die), since closing one fd twice could close another's."""
        with self._stopping:
            if self._stopped:
                return
            self.ask_to_exit()
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout)
            self.conn.close()
            self._stopped = True


class ProcessExecutor:
    """Trains each trial in a warm child process; idle children are kept for the next trial.

    With a `placement` (GPUs found on the machine), each child is pinned to one GPU when it starts, placed
    for the share of a GPU (`run.gpus_per_trial`) of the trial it starts for (the placement's own when
    prewarmed). Placement happens once per child, before a trial is known: a trial whose share differs
    from every idle child's retires one of them and starts a child placed for its share.
    """

    def __init__(self, *, log_path: str | None = None, env: dict[str, str] | None = None,
                 placement: Placement | None = None) -> None:
        self._log_path = log_path
        self._env = dict(env or {})
        self._placement = placement
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._tokens = itertools.count(1)
        prepare_multiprocessing()  # here, not at the first trial: by then stderr may be Textual's

    def prewarm(self, count: int = 1, *, wait: float = 0.0) -> None:
        """Start children now so that the first trial does not wait for `import torch`.

        With `wait` > 0, block up to that many seconds until the new children are ready.
        """
        started = []
        with self._lock:
            while len(self._idle) < count and not self._closed:
                worker = self._new_worker()
                self._idle.append(worker)
                started.append(worker)
        deadline = time.monotonic() + wait
        for worker in started:  # they start together, so they share the one deadline
            if wait > 0:
                worker.wait_ready(max(0.0, deadline - time.monotonic()))

    def _acquire(self, cwd: str, share: float | None = None) -> _Worker:
        """An idle child placed for `share` whose imported code is still what is on disk, or a new one; a
        stale child, or an idle one placed for another share when none fits, is retired (its GPU released
        first, so that its successor may take it)."""
        share = self._placement.share if self._placement is not None and share is None else share
        misplaced: list[_Worker] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is shut down")
            for dead in [w for w in self._idle if not w.process.is_alive()]:
                self._idle.remove(dead)
                self._retire(dead, 0)
            fitting = [w for w in self._idle if self._placed_for(w, share)]
            worker = fitting[-1] if fitting else None
            if worker is not None:
                self._idle.remove(worker)
            else:
                if self._idle:  # placed for another share: make room for one placed for this trial's
                    misplaced = self._take_out(self._idle[:1])
                worker = self._new_worker(share)
            self._busy.add(worker)
        for old in misplaced:
            old.stop(5.0)
        if worker.code == {}:  # new, or it imported no plugin: nothing to compare
            return worker
        if worker.stale_reason(cwd) is None:  # hashing a few small files, outside the lock
            return worker
        self._drop([worker])
        try:
            return self._acquire(cwd, share)
        finally:
            worker.stop(5.0)  # it exits at once (idle), joined while its successor starts

    def _placed_for(self, worker: _Worker, share: float | None) -> bool:
        """Whether `worker` may run a trial that takes `share` of a GPU (always, without a placement)."""
        return self._placement is None or (worker.share is not None and share is not None
                                           and math.isclose(worker.share, share))

    def retire_stale(self, cwd: str | None = None) -> int:
        """Retire the idle children whose imported plugin code changed on disk (or that imported it from
        another working directory than `cwd`, default this process's); the number retired. A trial would
        retire them anyway, then wait for a new child: a caller that notices idle time can call this and
        `prewarm` so that the next trial finds a fresh child warm."""
        cwd = cwd or os.getcwd()
        with self._lock:
            idle = [w for w in self._idle if w.code != {}]
        stale = [w for w in idle if w.stale_reason(cwd) is not None]
        stale = self._drop(stale)
        for worker in stale:
            worker.stop(5.0)
        return len(stale)

    def _drop(self, workers: list[_Worker]) -> list[_Worker]:
        """Take children out of service (those still idle or busy here), their GPUs released at once so
        that a successor may take them, and ask them to exit; the ones taken out."""
        with self._lock:
            return self._take_out(workers)

    def _take_out(self, workers: list[_Worker]) -> list[_Worker]:
        """`_drop` with the lock held."""
        dropped = [w for w in workers if w in self._busy or w in self._idle]
        for worker in dropped:
            self._busy.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
            self._unplace(worker)
        for worker in dropped:
            worker.ask_to_exit()
        return dropped

    def _new_worker(self, share: float | None = None) -> _Worker:
        """Called with the lock held."""
        if self._placement is None:
            return _Worker(self._log_path, self._env)
        share = self._placement.share if share is None else share
        return _Worker(self._log_path, self._env, self._placement.acquire(share), share)

    def _unplace(self, worker: _Worker) -> None:
        if self._placement is not None and worker.gpu is not None:
            self._placement.release(worker.gpu, worker.share)
            worker.gpu = None

    def _retire(self, worker: _Worker, timeout: float) -> None:
        worker.stop(timeout)
        self._unplace(worker)

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            if healthy and not self._closed:
                self._idle.append(worker)
                return
            self._retire(worker, 1.0)

    @property
    def pinned(self) -> dict[int, int | None]:
        """Each live child's pid and the GPU index it is pinned to (None: not pinned)."""
        with self._lock:
            return {w.process.pid: (w.gpu.index if w.gpu else None) for w in [*self._idle, *self._busy]
                    if w.process.pid is not None}

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event,
            sink: Sink, *, judge: Judge | None = None, threads: int | None = None) -> TrialFinished:
        started = time.monotonic()
        cwd = os.getcwd()
        worker = self._acquire(cwd, config.run.gpus_per_trial)
        token = f"{os.getpid()}-{next(self._tokens)}"
        worker.conn.send(("run", token, trial_id, config.to_dict(), str(Path(store_path).resolve()), cwd,
                          judge is not None, threads))
        finished: TrialFinished | None = None
        cancel_sent = False
        while True:
            if cancel.is_set() and not cancel_sent:
                state = cancel.state if isinstance(cancel, StopSignal) else TrialState.CANCELLED
                reason = cancel.reason if isinstance(cancel, StopSignal) else None
                worker.conn.send(("cancel", token, state.value, reason))
                cancel_sent = True
            message = self._receive(worker)
            if message is None:
                if worker.process.is_alive():
                    continue
                self._release(worker, healthy=False)
                return self._crashed(store_path, trial_id, worker, sink, time.monotonic() - started,
                                     shutting_down=self._closed)
            kind = message[0]
            if kind == "events":
                batch: list[Event] = message[2]
                finished = next((e for e in batch if isinstance(e, TrialFinished)), finished)
                sink(trial_id, batch)
            elif kind == "judge":
                worker.conn.send(("verdict", token, ask_judge(judge, trial_id, message[2])))
            elif kind == "done":
                worker.code, worker.cwd = message[2], cwd
                self._release(worker, healthy=True)
                assert finished is not None
                return finished

    @staticmethod
    def _receive(worker: _Worker) -> Any:
        try:
            if worker.conn.poll(POLL_SECONDS):
                return worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(1.0)
        return None

    @staticmethod
    def _crashed(store_path: Path, trial_id: int, worker: _Worker, sink: Sink, seconds: float, *,
                 shutting_down: bool = False) -> TrialFinished:
        from engine.store import Store

        code = worker.process.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        if shutting_down:  # we stopped it ourselves (a second Ctrl+C, the app quitting): not the trial's fault
            state, reason = TrialState.CANCELLED, f"stopped with tunedeck: its trainer (pid {worker.process.pid}) {how}"
        elif code is not None and -code in _KILLED_FROM_OUTSIDE:  # kill -9, the OOM killer, a shutdown
            state, reason = (TrialState.INTERRUPTED,
                             f"the trainer process (pid {worker.process.pid}) {how} while the trial ran")
        else:
            state, reason = TrialState.FAILED, f"the trainer process (pid {worker.process.pid}) {how} while the trial ran"
        with Store(store_path) as store:
            store.mark_finished(trial_id, state, reason)
            summary = _summary_from(store, trial_id)
        finished = TrialFinished(state, reason, summary, seconds)
        sink(trial_id, [finished])
        return finished

    def shutdown(self) -> None:
        """Stop idle children; children still busy are killed after a short grace period."""
        with self._lock:
            self._closed = True
            workers = self._idle + list(self._busy)
            self._idle = []
        for worker in workers:
            worker.ask_to_exit()  # all at once: each takes about a second to wind down
        for worker in workers:
            worker.stop(2.0)
        for worker in workers:
            self._unplace(worker)


def _summary_from(store: Any, trial_id: int) -> Summary:
    r = store.trial(trial_id)
    return Summary.of(r)
