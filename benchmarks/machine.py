"""What the benchmarks print about the machine they ran on (imported by the scripts beside it)."""
from __future__ import annotations

import os


def load() -> str:
    """The 1, 5 and 15-minute load averages, or n/a where the system has none."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
