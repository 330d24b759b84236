"""A strategy whose optional package is absent: `tunedeck sweep` refuses it in one line naming the file,
the line, the key and the extra to install, stores nothing, and exits 2. The package is hidden from the
real console script by a module of that name on PYTHONPATH that fails to import."""
from __future__ import annotations

from pathlib import Path

from tests.cli.clirunner import Cli

PRESET = """\
extends = "toy2d-mlp"

[search]
strategy = "cmaes"
trials = 2
"optim.lr" = { low = 1e-3, high = 1e-1, log = true }
"""


def test_cmaes_without_its_package_is_refused_in_one_line_naming_the_extra(cli: Cli, tmp_path: Path) -> None:
    hidden = tmp_path / "hide" / "cmaes"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("hidden by the test")\n')
    (cli.cwd / "cm.toml").write_text(PRESET)
    cli.env["PYTHONPATH"] = str(hidden.parent)
    result = cli("sweep", "cm.toml")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"tunedeck: error: {cli.cwd / 'cm.toml'}:4: search.strategy: cmaes needs the "
                                     "cmaes package, which is not installed: pip install 'tunedeck[cmaes]', got 'cmaes'")
    assert "Traceback" not in result.stderr and not cli.store.exists()


REPEATS = """\
extends = "toy2d-mlp"

[task]
n_samples = 200

[optim]
max_epochs = 1

[search]
strategy = "random"
trials = 4
seed = 0
"optim.lr" = [0.01, 0.1]
"""


def test_a_sweep_says_when_it_skips_a_repeated_config_and_ends_when_nothing_new_is_drawn(cli: Cli) -> None:
    (cli.cwd / "two.toml").write_text(REPEATS)
    result = cli("sweep", "two.toml", "--executor", "thread")
    assert result.returncode == 0, result.stderr
    trial_lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(trial_lines) == 2  # two points, each trained once
    notes = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("note: ")]
    assert notes and all("sampled config(s) that repeated an earlier trial's" in n for n in notes)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("sweep 1 completed: the search space was used up after 2 trials")
    assert "repeat(s) of an earlier trial's config skipped" in last
