"""Is the process that holds a trial or a sweep still alive? A pid plus the kernel's start time.

A pid alone can be reused by an unrelated process after a crash; the start time read from /proc
tells the two apart, so a store opened after a kill -9 marks the dead run's rows interrupted.
"""
from __future__ import annotations

import os

# A running trial's trainer (and a sweep's supervising process) renews its heartbeat this often; a
# row from another host whose heartbeat is older than STALE_SECONDS is taken for dead.
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0


def process_token(pid: int | str = "self") -> str:
    """The kernel's start time of a process; empty where /proc is not available (the pid is trusted)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


def process_alive(pid: int, token: str) -> bool:
    """True while process `pid` runs and, where a token was recorded, is the same process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except FileNotFoundError:
        return not os.path.isdir("/proc/self")
    except OSError:
        return True
    fields = stat[stat.rfind(")") + 2:].split()
    if fields and fields[0] in ("Z", "X"):
        return False
    return not token or (len(fields) > 19 and fields[19] == token)
