"""`tunedeck show` names the code a plugin trial ran: its file and sha256 (real run, real store)."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from tests.cli.clirunner import BIN

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_show_prints_the_plugin_files_hash(tmp_path: Path) -> None:
    for name in ("spirals.py", "spirals.toml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    ran = subprocess.run([str(BIN), "run", "spirals.toml", "--set", "optim.max_epochs=1", "--quiet"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    shown = subprocess.run([str(BIN), "show", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    digest = hashlib.sha256((tmp_path / "spirals.py").read_bytes()).hexdigest()
    line = next(x for x in shown.stdout.splitlines() if x.strip().startswith("code"))
    assert "spirals.py" in line and digest[:16] in line, line
