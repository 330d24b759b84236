"""The own-loop example the docs point to: it runs by hand, and its preset sweeps its own knobs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.states import TrialState
from engine.store import Store
from engine.sweeps.preset_search import load_sweep

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_example_script_run_by_hand_records_a_trial_of_its_own(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / "own_loop.py")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=180, env={"PATH": "/usr/bin:/bin", "TUNEDECK_STORE": str(tmp_path / "t.db")})
    assert done.returncode == 0, done.stderr
    with Store(tmp_path / "t.db") as store:
        (trial,) = store.trials()
        assert trial.state is TrialState.COMPLETED and trial.epochs_run == 30 and trial.task == "script"
        assert trial.config["params"] == {"hidden": 32, "depth": 2} and trial.val_acc_at_best is not None
        assert store.checkpoints(trial.id, "best")  # run.save() of its best weights


def test_the_example_preset_sweeps_the_scripts_own_knobs() -> None:
    base, spec = load_sweep(str(EXAMPLES / "own_loop.toml"))
    assert base.task.name == "script" and base.params == {"hidden": 32, "depth": 2}
    assert set(spec.keys()) == {"optim.lr", "params.hidden", "params.depth"} and spec.pruner == "median"
