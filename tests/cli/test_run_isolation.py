"""`tunedeck run` trains in a child process: a plugin that ends its own process fails its trial, not the CLI."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.cli.clirunner import REPO, Cli

PLUGIN = REPO / "tests" / "engine" / "plugins" / "tunedeck_test_exits.py"
ANNOUNCED = "importing task code from ./tunedeck_test_exits.py"
RAN = "tunedeck_test_exits: top-level code runs"


def _preset(cli: Cli, function: str) -> str:
    shutil.copy(PLUGIN, cli.cwd / PLUGIN.name)
    path = cli.cwd / f"{function}.toml"
    path.write_text(f'[task]\nname = "tunedeck_test_exits:{function}"\n\n[task.options]\n'
                    f'counter = "{cli.cwd / "calls.txt"}"\n\n[optim]\nmax_epochs = 2\n')
    return str(path)


def _trial(cli: Cli) -> tuple[str, str]:
    with sqlite3.connect(cli.store) as db:
        rows = db.execute("select state, reason from trials").fetchall()
    assert len(rows) == 1
    return rows[0]


def _one_clean_failure(result: subprocess.CompletedProcess, reason: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"trial 1 failed: {reason}" in result.stdout
    assert result.stdout.count("failed") == 1
    stderr = result.stderr.splitlines()
    assert stderr.index(ANNOUNCED) < stderr.index(RAN)  # named before the plugin's own code ran


@pytest.mark.parametrize(("function", "how", "when"), [
    ("exit3", "exited with code 3", "while it built the trial"),
    ("segfault", "was killed by signal SIGSEGV", "while the trial ran"),
])
def test_a_plugin_that_ends_its_process_fails_the_trial_not_the_cli(cli: Cli, function: str, how: str,
                                                                    when: str) -> None:
    result = cli("run", _preset(cli, function))
    _one_clean_failure(result, "the trainer process (pid ")
    state, reason = _trial(cli)
    assert state == "failed"
    assert reason.startswith("the trainer process (pid ") and reason.endswith(f"{how} {when}")
    if function == "segfault":  # it crashed in its first batch: the trial had started and said so
        assert "binary on cpu" in result.stdout


def test_a_build_that_raises_is_called_once_and_recorded(cli: Cli) -> None:
    result = cli("run", _preset(cli, "raises"))
    _one_clean_failure(result, "RuntimeError: the data is gone")
    assert _trial(cli) == ("failed", "RuntimeError: the data is gone")
    assert (cli.cwd / "calls.txt").read_text().splitlines() == ["called"]


def test_a_plugin_that_cannot_be_found_is_not_announced(cli: Cli) -> None:
    preset = cli.cwd / "missing.toml"
    preset.write_text('[task]\nname = "tunedeck_test_nowhere:build"\n')
    result = cli("run", str(preset))
    assert result.returncode == 2 and "cannot import 'tunedeck_test_nowhere'" in result.stderr
    assert "importing task code" not in result.stderr and "Traceback" not in result.stderr
    assert not cli.store.exists()


def test_the_parent_never_imports_torch(tmp_path: Path) -> None:
    """The child imports torch: the CLI importing it too would pay for it twice."""
    import sys

    probe = ("import sys; from tunedeck.cli import cmd_run; from engine.execution import isolated; "
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "False"


def test_a_sweep_names_the_task_code_before_importing_it(cli: Cli) -> None:
    preset = Path(_preset(cli, "raises"))
    preset.write_text(preset.read_text() + '\n[search]\nstrategy = "random"\ntrials = 1\nparallel = 1\n'
                      '"optim.lr" = { low = 1e-3, high = 1e-1, log = true }\n')
    result = cli("sweep", str(preset), "--executor", "thread")  # the plugin runs in this process: its line shows
    assert "Traceback" not in result.stdout + result.stderr
    stderr = result.stderr.splitlines()
    assert stderr.count(ANNOUNCED) == 1 and stderr.index(ANNOUNCED) < stderr.index(RAN)
