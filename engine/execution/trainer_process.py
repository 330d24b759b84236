"""The process executor: warm child processes that train trials and stream batched events back.

A child imports torch and builds one optimizer when it starts (about 4-5 s on a small box, mostly
`import torch` and torch's first-optimizer import of torch._dynamo), then trains trial after trial,
so only the first trial waits for that. The parent's worker thread supervises each run: it forwards
event batches, relays a cancel, and turns a child that dies into a failed trial, leaving the app and
the other trials running.
"""
from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.events import EpochEnded, Event, StopSignal, Summary, TrialFinished
from engine.execution.executors import Judge, Sink, ask_judge, run_in_this_thread
from engine.execution.placement import Gpu, Placement
from engine.states import TrialState
from engine.training import THREAD_CAP_VAR

_CONTEXT = multiprocessing.get_context("spawn")
POLL_SECONDS = 0.05


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
PARENT_GONE_GRACE = 3.0  # seconds a trial gets to end by itself once the parent is gone


def _child_main(conn: multiprocessing.connection.Connection, log_path: str | None) -> None:
    """The child: warm up, then train what the parent sends until told to exit.

    When the parent dies (its end of the pipe closes: a supervisor killed with -9, an app that
    crashed), the trial running here ends `interrupted` at its next batch; if it does not within
    PARENT_GONE_GRACE (a hung trial), it is recorded interrupted from here and the child exits, so
    no trainer outlives its parent holding a GPU. (A parent-death signal would not do: Linux sends
    it when the *thread* that started the child ends, and the pool starts children from worker
    threads that end after each trial.)
    """
    target = os.open(log_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(target, 1)
    os.dup2(target, 2)  # never draw on the UI's terminal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C belongs to the parent, which cancels cleanly
    parent = os.getppid()
    _warm_up()
    jobs: queue.Queue = queue.Queue()
    verdicts: queue.Queue = queue.Queue()
    cancel = StopSignal()
    cancelled: dict[str, tuple[str, str | None]] = {}  # run token -> (state, reason); tokens are unique per run
    current: list[tuple[str, int, str] | None] = [None]  # (token, trial id, store path) of the trial running
    lock = threading.Lock()

    def send(message: tuple) -> None:
        try:
            conn.send(message)
        except (OSError, ValueError):  # the parent is gone: the listener has seen it too
            pass

    def parent_gone() -> None:
        reason = f"its trainer's parent process (pid {parent}) ended"
        verdicts.put(None)
        jobs.put(("exit",))
        with lock:
            running = current[0]
            if running is not None:
                cancel.stop(TrialState.INTERRUPTED, reason)
        if running is None:
            return
        time.sleep(PARENT_GONE_GRACE)
        with lock:
            still = current[0] == running
        if still:  # the trial did not reach its next batch: record it from here and go
            from engine.store import Store

            try:
                with Store(running[2]) as store:
                    store.mark_finished(running[1], TrialState.INTERRUPTED, f"{reason}; the trial did not stop "
                                        f"within {PARENT_GONE_GRACE:.0f} s, so its trainer was ended")
            finally:
                os._exit(3)

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                parent_gone()
                return
            if message[0] == "cancel":
                _, token, state, reason = message
                with lock:
                    cancelled[token] = (state, reason)
                    if current[0] is not None and current[0][0] == token:
                        cancel.stop(TrialState(state), reason)
            elif message[0] == "verdict":
                verdicts.put(message[2])
            else:
                jobs.put(message)
                if message[0] == "exit":
                    return

    threading.Thread(target=listen, daemon=True, name="tunedeck-control").start()
    send(("ready", os.getpid()))
    while True:
        message = jobs.get()
        if message[0] == "exit":
            return
        _, token, trial_id, config_data, store_path, cwd, judged, threads = message
        if os.getcwd() != cwd:
            os.chdir(cwd)  # plugins resolve from the working directory, as in the parent
        if threads:
            os.environ[THREAD_CAP_VAR] = str(threads)
        else:
            os.environ.pop(THREAD_CAP_VAR, None)
        with lock:
            current[0] = (token, trial_id, store_path)
            cancel.clear()
            if token in cancelled:
                state, reason = cancelled.pop(token)
                cancel.stop(TrialState(state), reason)

        def ask_parent(tid: int, event: EpochEnded) -> str | None:
            send(("judge", tid, event))
            return verdicts.get()  # the parent answers every question; None also when it is gone

        config = Config.from_dict(config_data)
        def send_events(batch: list[Event], tid: int = trial_id) -> None:
            send(("events", tid, batch))

        run_in_this_thread(Path(store_path), trial_id, config, cancel, send_events, ask_parent if judged else None)
        with lock:
            current[0] = None
        send(("done", trial_id))


def _warm_up() -> None:
    import torch

    torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)


class _Worker:
    def __init__(self, log_path: str | None, env: dict[str, str], gpu: Gpu | None = None) -> None:
        self.gpu = gpu
        self._stopping = threading.Lock()
        self._stopped = False
        if gpu is not None:
            env = {**env, **Placement.env_for(gpu)}
        self.conn, child_conn = _CONTEXT.Pipe(duplex=True)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # a spawned child takes the environment as it is at start()
        try:
            self.process = _CONTEXT.Process(target=_child_main, args=(child_conn, log_path), daemon=True,
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

    With a `placement` (GPUs found on the machine), each child is pinned to one GPU when it starts.
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

    def _acquire(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is shut down")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    self._busy.add(worker)
                    return worker
                self._retire(worker, 0)
            worker = self._new_worker()
            self._busy.add(worker)
            return worker

    def _new_worker(self) -> _Worker:
        """Called with the lock held."""
        gpu = self._placement.acquire() if self._placement else None
        return _Worker(self._log_path, self._env, gpu)

    def _retire(self, worker: _Worker, timeout: float) -> None:
        worker.stop(timeout)
        if self._placement is not None and worker.gpu is not None:
            self._placement.release(worker.gpu)
            worker.gpu = None

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
        worker = self._acquire()
        token = f"{os.getpid()}-{next(self._tokens)}"
        worker.conn.send(("run", token, trial_id, config.to_dict(), str(Path(store_path).resolve()), os.getcwd(),
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
        if self._placement is not None:
            for worker in workers:
                if worker.gpu is not None:
                    self._placement.release(worker.gpu)


def _summary_from(store: Any, trial_id: int) -> Summary:
    r = store.trial(trial_id)
    return Summary.of(r)
