"""The trainer child process: warm up once, then train the trials its parent sends, one at a time.

Started by engine.execution.trainer_process (spawned, so it imports only what it needs). After each
trial it reports the plugin source files it has imported and their hashes, so that the parent can
retire it once one of them is edited (engine.tasks.plugin_code).
"""
from __future__ import annotations

import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from pathlib import Path

from engine.config.groups import Config
from engine.events import EpochEnded, Event, StopSignal
from engine.execution.child_end import exit_now
from engine.execution.executors import run_in_this_thread
from engine.states import TrialState
from engine.training import THREAD_CAP_VAR

PARENT_GONE_GRACE = 3.0  # seconds a trial gets to end by itself once the parent is gone


def child_main(conn: multiprocessing.connection.Connection, log_path: str | None) -> None:
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
            exit_now()
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
        send(("done", trial_id, _code_loaded()))


def _code_loaded() -> dict[str, str | None] | None:
    """The plugin files this process has imported, with their hashes (engine.tasks.plugin_code); None
    when they cannot be told, which retires this process rather than risk old code."""
    try:
        from engine.tasks.plugin_code import LOADED

        return LOADED.record()
    except Exception:  # noqa: BLE001 - a report that failed must not take the trainer down
        return None


def _warm_up() -> None:
    """Pay for `import torch` and torch._dynamo before the first trial. Every optimizer imports
    torch._dynamo (Optimizer.add_param_group is wrapped by torch._disable_dynamo, and step() imports
    it for its graph breaks), and TORCH_COMPILE_DISABLE=1 turns compiling off without skipping the
    import, so it cannot be avoided, only paid here, once per process."""
    import torch

    torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
