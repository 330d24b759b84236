"""A two-objective sweep (val_loss and the parameter count) trained for real through the console script:
its stored and printed Pareto front equals the non-dominated set computed here from its trials."""
from __future__ import annotations

import math
import re

from engine.states import TrialState
from engine.store import Store
from engine.sweeps.results import load_results
from tests.cli.clirunner import Cli

PRESET = """\
extends = "toy2d-mlp"

[task]
n_samples = 300

[optim]
max_epochs = 3

[search]
strategy = "random"
trials = 8
parallel = 2
seed = 5
metric = ["val_loss", "params"]
"optim.lr" = { low = 1e-3, high = 1e-1, log = true }
"model.hidden" = [[2], [8], [32]]
"""


def non_dominated(points: dict[int, tuple[float, float]]) -> set[int]:
    """Both objectives minimized: a trial is on the front unless another is no worse in both and better in one."""
    def beaten(a: tuple[float, float], b: tuple[float, float]) -> bool:  # b beats a
        return b[0] <= a[0] and b[1] <= a[1] and (b[0] < a[0] or b[1] < a[1])
    return {i for i, p in points.items() if not any(beaten(p, q) for j, q in points.items() if j != i)}


def test_a_two_objective_sweep_keeps_and_prints_its_pareto_front(cli: Cli) -> None:
    (cli.cwd / "multi.toml").write_text(PRESET)
    ran = cli("sweep", "multi.toml", "--executor", "thread")
    assert ran.returncode == 0, ran.stderr
    assert "minimize val_loss, minimize params" in ran.stdout  # the start line names both objectives
    assert "Pareto front of" in ran.stdout

    with Store(cli.store) as store:
        trials = [t for t in store.trials() if t.sweep_id == 1]
        assert len(trials) == 8 and all(t.state is TrialState.COMPLETED for t in trials)
        points = {}
        for t in trials:  # computed here, from the stored epochs and parameter counts
            losses = [v for _, _, _, _, v in store.history([t.id], metric="val_loss") if v is not None]
            points[t.id] = (min(losses), float(t.n_params))
        expected = non_dominated(points)
        assert len({p for _, p in points.values()}) > 1 and 0 < len(expected) < 8  # a front worth the name
        results = load_results(store, 1)
        assert {p.trial_id for p in results.front} == expected
        for p in results.front:
            assert p.objectives is not None and all(math.isclose(a, b) for a, b in zip(p.objectives, points[p.trial_id]))

    listed = cli("sweeps")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert re.search(rf"front of {len(expected)} \(val_loss x params\)", lines[2])
    start = next(i for i, line in enumerate(lines) if "Pareto front of" in line)
    assert lines[start].endswith(f"Pareto front of {len(expected)} of 8 completed trials (min val_loss, min params)")
    assert lines[start + 1].split()[:3] == ["trial", "val_loss", "params"]
    printed = {int(line.split()[0]) for line in lines[start + 3:start + 3 + len(expected)]}
    assert printed == expected
