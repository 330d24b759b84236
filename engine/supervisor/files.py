"""The files a store's supervisor keeps beside the store, and the lock that makes it the only one.

`tunedeck.db` -> `tunedeck.supervisor.lock` (held with flock while the supervisor lives: the kernel
drops it when the process dies, however it dies), `tunedeck.supervisor.pid` and
`tunedeck.supervisor.log` (its output and its trainers'). Nothing listens on a port or a socket.
"""
from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SupervisorFiles:
    store: Path

    def _beside(self, suffix: str) -> Path:
        return self.store.with_name(f"{self.store.stem}.supervisor.{suffix}")

    @property
    def lock(self) -> Path:
        return self._beside("lock")

    @property
    def pid(self) -> Path:
        return self._beside("pid")

    @property
    def log(self) -> Path:
        return self._beside("log")

    @property
    def executor(self) -> Path:
        """The executor the live supervisor trains with (`process` or `ray`), written once it holds the lock."""
        return self._beside("executor")


def running_executor(files: SupervisorFiles) -> str:
    """What the store's live supervisor trains with (one that wrote nothing predates the choice: process)."""
    try:
        return files.executor.read_text().strip() or "process"
    except OSError:
        return "process"


def take_lock(files: SupervisorFiles, wait: float = 0.0) -> int | None:
    """The lock's file descriptor, held until closed (or the process ends); None: another process holds it.

    `wait`: keep trying that many seconds. A starting supervisor waits a little, because `running_pid`
    holds the lock for an instant to tell whether a supervisor runs: taking that probe for another
    supervisor would leave the store with none.
    """
    fd = os.open(files.lock, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.01)


def running_pid(files: SupervisorFiles) -> int | None:
    """The pid of the store's live supervisor, or None when there is none.

    The lock decides (a pid file can outlive its process); the pid file only names the holder.
    """
    if not files.lock.exists():
        return None
    fd = take_lock(files)
    if fd is not None:
        os.close(fd)
        return None
    try:
        return int(files.pid.read_text().strip() or 0) or -1
    except (OSError, ValueError):
        return -1  # held, but the holder has not written its pid yet
