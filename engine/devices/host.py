"""The box itself: CPU cores, load average and memory, read from os and /proc (no psutil)."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from engine.execution.placement import cpu_cores

MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class HostStatus:
    hostname: str
    cores: int  # the cores this process may use
    load: tuple[float, float, float] | None  # 1, 5 and 15 minutes; None where the OS has no load average
    memory_total_mb: int | None  # None where /proc/meminfo is absent (not Linux)
    memory_available_mb: int | None


def read_host(meminfo: Path = MEMINFO) -> HostStatus:
    try:
        load: tuple[float, float, float] | None = os.getloadavg()
    except (OSError, AttributeError):
        load = None
    total, available = _memory(meminfo)
    return HostStatus(socket.gethostname(), cpu_cores(), load, total, available)


def _memory(meminfo: Path) -> tuple[int | None, int | None]:
    """MemTotal and MemAvailable in MiB (the kernel's estimate of what a new process can take)."""
    try:
        text = meminfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None, None
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0]) // 1024  # kB
    return values.get("MemTotal"), values.get("MemAvailable")
