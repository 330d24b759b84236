"""A real two-node Ray cluster on 127.0.0.1 for the Ray tests: a head and a second node, each `ray start
--block` in a session of its own under a short temp dir of ours, so that each node is one process group
that the tests kill (the second node mid-sweep, with SIGKILL) and that is stopped at the end by its own
process group, never with `ray stop`, which would stop every Ray on the machine."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
CPUS_PER_NODE = 2  # two trials fit on each node
# Ray 2.5x turns token authentication on for a new cluster when ~/.ray/auth_token exists, and a driver that
# joins by address does not present it unless told (RAY_AUTH_MODE=token): the test cluster, on 127.0.0.1
# and gone at the end of the module, runs without it, and the tests' drivers (in-process and the CLI) say so.
CLUSTER_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalCluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tdr", dir="/tmp"))  # Unix socket paths must stay short
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.head: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def _start(self, *args: str, where: str) -> subprocess.Popen:
        log = open(self.dir / f"{where}.log", "ab")  # noqa: SIM115 - kept open for the node's life
        env = {**os.environ, **CLUSTER_ENV}
        return subprocess.Popen([str(RAY), "start", "--block", "--node-ip-address=127.0.0.1",
                                 f"--num-cpus={CPUS_PER_NODE}", "--num-gpus=0", f"--temp-dir={self.dir / where}",
                                 *args], stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)

    def start(self, timeout: float = 90.0) -> None:
        self.head = self._start("--head", f"--port={self.port}", "--include-dashboard=false", where="h")
        self._wait_port(timeout)
        self.worker = self._start(f"--address={self.address}", where="w")

    def _wait_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                assert self.head is not None and self.head.poll() is None, self.log("h")
                time.sleep(0.2)
        raise TimeoutError(f"the Ray head did not listen within {timeout} s: {self.log('h')}")

    def log(self, where: str) -> str:
        path = self.dir / f"{where}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill_worker(self) -> None:
        """kill -9 the second node: its `ray start`, raylet and agents (one process group)."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(10)

    def stop(self) -> None:
        for proc in (self.worker, self.head):
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(15)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait(10)
        _kill_leftovers(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


def _kill_leftovers(temp_dir: Path) -> None:
    """Ray's workers run in process groups of their own: any still alive whose command line names our
    temp dir is ended by its pid (they are ours and no one else's)."""
    needle = str(temp_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and int(entry.name) != os.getpid():
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass
