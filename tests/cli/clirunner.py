from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "tunedeck"
REPO = Path(__file__).resolve().parents[2]


class Cli:
    """Runs the installed `tunedeck` console script in a scratch directory with its own store."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.store = cwd / "trials.db"
        self.env = {**os.environ, "TUNEDECK_STORE": str(self.store)}

    def __call__(self, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN), *args], cwd=cwd or self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=timeout)


