"""A plugin edited while the cockpit is open: the next trial runs the new code, in a fresh trainer process,
and each trial's stored environment holds the hash of the code it ran. Real processes, real training."""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.execution.pool import TrialPool
from engine.execution.trainer_process import ProcessExecutor
from engine.states import TrialState
from engine.store import Store
from engine.store.schema import TrialRecord

PLUGIN = """
import torch

from engine.tasks.base import REGRESSION, Split, TaskData
from fresh_helper import SCALE

VERSION = {version}


def build(config):
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(0))
    y = x.sum(dim=1, keepdim=True) * SCALE
    return TaskData(Split(x[:24], y[:24]), Split(x[24:32], y[24:32]), Split(x[32:], y[32:]), problem=REGRESSION,
                    input_shape=(2,), info={{"version": VERSION, "scale": SCALE}})
"""


def write(path: Path, text: str, age: float) -> None:
    """Write `text`, dated `age` seconds back: far enough that the trainer trusts the hash it takes
    (a file written within a second of its import may have been read in either version), and each
    version dated apart so that Python's bytecode cache, keyed by date and size, never serves the old one."""
    path.write_text(text)
    when = time.time() - age
    os.utime(path, (when, when))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config() -> Config:
    return Config.from_dict({"task": {"name": "fresh_plugin:build"}, "model": {"hidden": [4]},
                             "optim": {"max_epochs": 2}, "run": {"device": "cpu"}})


def run_one(pool: TrialPool, store: Store) -> TrialRecord:
    trial_id = pool.submit(config())
    assert pool.wait_idle(180)
    record = store.trial(trial_id)
    assert record.state is TrialState.COMPLETED, record.reason
    return record


def test_an_edited_plugin_runs_in_a_fresh_trainer_and_each_trial_records_its_hash(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    plugin, helper = project / "fresh_plugin.py", project / "fresh_helper.py"
    write(plugin, PLUGIN.format(version=1), age=500)
    write(helper, "SCALE = 1.0\n", age=500)
    monkeypatch.chdir(project)  # the trainer imports plugins from the parent's working directory
    executor = ProcessExecutor()
    pool = TrialPool(store, executor, parallel=1)
    try:
        first = run_one(pool, store)
        again = run_one(pool, store)
        assert again.env["pid"] == first.env["pid"]  # nothing changed: the warm trainer is reused
        assert first.run_info["info"]["version"] == 1
        assert first.env["code"]["file"] == str(plugin) and first.env["code"]["sha256"] == sha(plugin)
        assert first.env["code"]["files"] == {"fresh_helper.py": sha(helper), "fresh_plugin.py": sha(plugin)}
        assert again.env["code"] == first.env["code"]

        write(plugin, PLUGIN.format(version=2), age=400)  # the user edits the plugin
        edited = run_one(pool, store)
        assert edited.env["pid"] != first.env["pid"]
        assert edited.run_info["info"]["version"] == 2  # the new code ran
        assert edited.env["code"]["sha256"] == sha(plugin) != first.env["code"]["sha256"]

        write(helper, "SCALE = 3.0\n", age=300)  # ... then a module the plugin imports from its folder
        assert list(executor.pinned) == [edited.env["pid"]]
        assert executor.retire_stale() == 1  # what a caller with idle time may do before the next trial
        assert executor.pinned == {} and executor.retire_stale() == 0
        helper_edited = run_one(pool, store)
        assert helper_edited.env["pid"] != edited.env["pid"]
        assert helper_edited.run_info["info"]["scale"] == 3.0
        assert helper_edited.env["code"]["sha256"] == edited.env["code"]["sha256"]
        assert helper_edited.env["code"]["files"]["fresh_helper.py"] == sha(helper) != \
            edited.env["code"]["files"]["fresh_helper.py"]

        other = tmp_path / "other"  # the same module names in another folder: another plugin
        shutil.copytree(project, other)
        write(other / "fresh_plugin.py", PLUGIN.format(version=3), age=200)
        monkeypatch.chdir(other)
        elsewhere = run_one(pool, store)
        assert elsewhere.env["pid"] != helper_edited.env["pid"]
        assert elsewhere.run_info["info"] == {"version": 3, "scale": 3.0, "plugin": "fresh_plugin:build"}
        assert elsewhere.env["code"]["file"] == str(other / "fresh_plugin.py")
    finally:
        pool.shutdown()  # and its executor, with every trainer it started
