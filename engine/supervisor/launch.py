"""Starting a store's supervisor on demand, detached from the terminal that asked for it.

The supervisor runs as `python -m engine.supervisor STORE` in a session of its own
(`start_new_session`): no controlling terminal, so a closed SSH connection, a killed tmux or the
cockpit quitting sends it no SIGHUP and no Ctrl+C. Two clients starting one at the same moment are
harmless: the second process finds the lock held and exits, and both clients see the first.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from engine.errors import TunedeckError
from engine.supervisor.files import SupervisorFiles, running_executor, running_pid

START_SECONDS = 20.0


class SupervisorError(TunedeckError):
    """The supervisor could not be started or reached."""


def ensure_supervisor(store_path: str | Path, *, idle_exit: float | None = None, executor: str | None = None) -> int:
    """The pid of the store's supervisor, started now if none runs. `executor` (`ray`): the one it must
    train with; a running supervisor with another one is an error that says how to switch."""
    files = SupervisorFiles(Path(store_path).resolve())
    pid = running_pid(files)
    if pid is not None and pid > 0:
        running = running_executor(files)
        if executor is not None and running != executor:
            raise SupervisorError(f"the supervisor of {files.store} (pid {pid}) trains with the {running} executor, "
                                  f"not {executor}: leave out --executor {executor} (or search.executor), or wait "
                                  "until it ends (by itself, once nothing is queued or running for its idle time) "
                                  "and ask again")
        return pid
    command = [sys.executable, "-m", "engine.supervisor", str(files.store)]
    if idle_exit is not None:
        command += ["--idle-exit", str(idle_exit)]
    if executor is not None:
        command += ["--executor", executor]
    with open(files.log, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True,
                                   start_new_session=True, cwd=os.getcwd())
    # Reap it when it exits (after an idle timeout, say) so that it never lingers as a zombie of ours.
    threading.Thread(target=process.wait, daemon=True, name="tunedeck-supervisor-reaper").start()
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        pid = running_pid(files)
        if pid is not None and pid > 0:
            return pid
        if process.poll() is not None and pid is None:
            raise SupervisorError(f"the supervisor for {files.store} did not start (exit status "
                                  f"{process.returncode}); see {files.log}")
        time.sleep(0.05)
    raise SupervisorError(f"the supervisor for {files.store} did not start within {START_SECONDS:.0f} s; "
                          f"see {files.log}")
