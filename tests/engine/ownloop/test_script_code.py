"""A script trial records the sha256 of the script it ran, whether the script imports tunedeck or only prints
its metrics; edited between two trials, the second trial records the new hash (each trial is a new process)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from engine.events import StopSignal
from engine.states import TrialState
from engine.store import Store
from tests.engine.ownloop.script_helpers import fast_executor, script_config, write_script

TUNEDECK_SCRIPT = """
import tunedeck
with tunedeck.init() as run:
    run.log(epoch=1, val_loss={loss})
"""
PLAIN_SCRIPT = """
print("epoch: 1 val_loss: {loss}")
"""


def run_script(store: Store, path: Path) -> int:
    config = script_config(path)
    trial_id = store.create_trial(config)
    finished = fast_executor(store).run(store.path, trial_id, config, StopSignal(), lambda tid, batch: None)
    assert finished.state is TrialState.COMPLETED, finished.reason
    return trial_id


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_script_trial_records_the_hash_of_the_script_it_ran(store: Store, tmp_path: Path) -> None:
    for body in (TUNEDECK_SCRIPT, PLAIN_SCRIPT):
        path = write_script(tmp_path, "train.py", body.format(loss=0.5))
        first_sha = sha(path)
        first = run_script(store, path)
        write_script(tmp_path, "train.py", body.format(loss=0.25))
        second = run_script(store, path)
        code = [store.trial(t).env["code"] for t in (first, second)]
        assert code == [{"file": str(path), "sha256": first_sha}, {"file": str(path), "sha256": sha(path)}]
        assert first_sha != sha(path)
        assert [store.trial(t).best_val_loss for t in (first, second)] == [0.5, 0.25]
