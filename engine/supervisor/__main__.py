"""`python -m engine.supervisor STORE`: the store's supervisor (started by `tunedeck`, not by hand).

It takes the lock first, before anything slow is imported, so that a second one started at the
same moment finds it taken and exits (status 0: the store has its supervisor) after trying for
LOCK_WAIT seconds, the time for a client's probe of the lock to let go.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

IDLE_VAR = "TUNEDECK_SUPERVISOR_IDLE"
LOCK_WAIT = 1.0  # a client's probe holds the lock for an instant; a supervisor holds it for good


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.supervisor")
    parser.add_argument("store")
    parser.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS",
                        help=f"end after this long with nothing queued or running (default ${IDLE_VAR}, else 900)")
    parser.add_argument("--executor", choices=("process", "ray"), default="process",
                        help="process: warm child processes here; ray: actors on the Ray cluster (RAY_ADDRESS)")
    args = parser.parse_args(argv)

    from engine.supervisor.files import SupervisorFiles, take_lock

    files = SupervisorFiles(Path(args.store).resolve())
    lock = take_lock(files, wait=LOCK_WAIT)
    if lock is None:
        return 0
    locked_at = time.time()  # clients see this supervisor from now on: their commands are for it
    files.pid.write_text(f"{os.getpid()}\n")
    files.executor.write_text(f"{args.executor}\n")
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal to hang up on; never die of one
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from engine.errors import TunedeckError
    from engine.execution.executors import FirstReady
    from engine.execution.placement import Placement
    from engine.execution.trainer_process import ProcessExecutor
    from engine.ownloop.executor import ScriptExecutor
    from engine.ownloop.routing import ScriptRouter
    from engine.supervisor.server import DEFAULT_IDLE_EXIT, Supervisor

    def log(line: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [supervisor {os.getpid()}] {line}", flush=True)

    placement = Placement.detect()
    # One warm child per trainer, each trial on the first one ready: a trial queued while a trainer
    # starts never waits for that one if another comes free first.
    processes = (_ray(log) if args.executor == "ray" else
                 FirstReady(lambda: ProcessExecutor(log_path=str(files.log), placement=placement)))
    if processes is None:
        _release(files, lock)
        return 2
    scripts = ScriptExecutor(placement=placement)  # script trials (task.name = "script") run as their own processes
    try:
        supervisor = Supervisor(files.store, ScriptRouter(processes, scripts), log=log, since=locked_at,
                                idle_exit=_idle_exit(args.idle_exit, DEFAULT_IDLE_EXIT))
    except TunedeckError as exc:
        log(f"cannot supervise: {exc}")
        return 2
    scripts.store = supervisor.store  # recorded through the supervisor's connection, not a second one
    processes.prewarm(1)  # the first trial does not wait for `import torch`
    signal.signal(signal.SIGTERM, lambda signum, frame: supervisor.stop(
        "interrupted: its supervisor was terminated (SIGTERM)", _interrupted()))
    try:
        supervisor.serve()
    finally:
        _release(files, lock)
    if supervisor.ended_idle and _work_left(files.store):
        # A client queued work while this one wound down: it saw the lock held and started none.
        # Checked only once the lock is released, so that either that client or this check starts one.
        from engine.supervisor.launch import ensure_supervisor

        try:
            successor = ensure_supervisor(files.store, idle_exit=args.idle_exit)
            log(f"work was queued as it ended: supervisor {successor} runs it")
        except TunedeckError as exc:
            log(f"work was queued as it ended, and no supervisor could be started for it: {exc}")
    return 0


def _ray(log: Callable[[str], None]) -> Any:
    """The Ray executor, connected (RAY_ADDRESS, else a local runtime); None, logged, when it cannot be."""
    from engine.errors import TunedeckError
    from engine.execution.ray_executor import RayExecutor

    executor = RayExecutor()
    try:
        executor.connect()
    except TunedeckError as exc:
        log(f"cannot supervise: {exc}")
        return None
    log("trials train on Ray actors (--executor ray)")
    return executor


def _release(files: Any, lock: int) -> None:
    for path in (files.pid, files.executor):
        try:
            path.unlink()
        except OSError:
            pass
    os.close(lock)


def _work_left(store_path: Path) -> bool:
    """Some trial or sweep is queued for a supervisor and no process holds it."""
    from engine.errors import TunedeckError
    from engine.store import Store

    try:
        with Store(store_path) as store:
            return bool(store.unclaimed_trials() or store.unclaimed_sweeps())
    except TunedeckError:
        return False


def _idle_exit(given: float | None, default: float) -> float:
    if given is not None:
        return given
    try:
        return float(os.environ.get(IDLE_VAR, default))
    except ValueError:
        return default


def _interrupted():  # the state, imported where the signal arrives (after the engine is loaded)
    from engine.states import TrialState

    return TrialState.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
