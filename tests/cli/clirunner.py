from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "tunedeck"
REPO = Path(__file__).resolve().parents[2]
SUPERVISOR_IDLE_S = 30  # a supervisor that a test failed to shut down ends by itself soon after


class Cli:
    """Runs the installed `tunedeck` console script in a scratch directory with its own store."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.store = cwd / "trials.db"
        self.env = {**os.environ, "TUNEDECK_STORE": str(self.store), "TUNEDECK_SUPERVISOR_IDLE": str(SUPERVISOR_IDLE_S)}

    def __call__(self, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN), *args], cwd=cwd or self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        """The command started, not waited for (its output in pipes, read as text)."""
        return subprocess.Popen([str(BIN), *args], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


def stop_supervisor(store: Path, wait: float = 15.0) -> None:
    """Shut down the store's supervisor if one runs, and wait for it to be gone (killed if it lingers)."""
    from engine.store import Store
    from engine.supervisor.client import SupervisorClient
    from engine.supervisor.files import SupervisorFiles, running_pid

    files = SupervisorFiles(store.resolve())
    if running_pid(files) is None:
        return
    with Store(store) as opened:
        SupervisorClient(opened).shutdown("stopped: the test ended")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if running_pid(files) is None:
            return
        time.sleep(0.1)
    pid = running_pid(files)
    if pid is not None and pid > 0:
        os.kill(pid, signal.SIGKILL)


def one_line_error(result: subprocess.CompletedProcess, *parts: str) -> None:
    """Refused as bad input: exit 2, one line of stderr saying each of `parts`, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("tunedeck: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for part in parts:
        assert part in result.stderr, result.stderr
