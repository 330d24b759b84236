"""No script outlives what started it: the executor's process killed with -9 takes its script along (the
trial is then recovered as interrupted), and an executor shut down stops the scripts still running."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.events import StopSignal
from engine.ownloop.launch import PDEATHSIG
from engine.states import TrialState
from engine.store import Store
from tests.engine.ownloop.script_helpers import WAIT, alive, fast_executor, script_config, wait_until, write_script

REPO = Path(__file__).resolve().parents[3]
FOREVER = """
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write(str(os.getpid()))
print("val_loss: 0.5")
while True:
    time.sleep(0.05)
"""
# A process that runs one script trial through the executor, as a supervisor does, and is then killed.
DRIVER = """
import sys
from engine.config.groups import Config
from engine.events import StopSignal
from engine.ownloop.executor import ScriptExecutor
from engine.store import Store

store = Store(sys.argv[1])
config = Config.from_dict({"task": {"name": "script", "path": sys.argv[2], "args": [sys.argv[3]]}})
trial_id = store.create_trial(config)
ScriptExecutor(store=store, hold=0.0).run(store.path, trial_id, config, StopSignal(), lambda tid, batch: None)
"""


@pytest.mark.skipif(not PDEATHSIG, reason="a parent-death signal is Linux's")
def test_a_script_dies_with_the_process_that_started_it_and_its_trial_is_recovered_interrupted(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = write_script(tmp_path, "forever.py", FOREVER)
    db = tmp_path / "trials.db"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(db), str(script), str(pid_file)], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", "the script starts")
        script_pid = int(pid_file.read_text())
        assert alive(script_pid)
        driver.kill()
        driver.wait(WAIT)
        wait_until(lambda: not alive(script_pid), "the script is gone with its parent", timeout=10.0)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(WAIT)
    with Store(db) as store:  # opening the store recovers the trial its dead holder left running
        (record,) = store.trials()
        assert record.state is TrialState.INTERRUPTED and record.pid == driver.pid
        assert f"process {driver.pid}" in (record.reason or "")


def test_shutting_the_executor_down_stops_a_running_script_as_cancelled(store: Store, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    config = script_config(write_script(tmp_path, "forever.py", FOREVER), **{"task.args": [str(pid_file)]})
    executor = fast_executor(store)
    trial_id = store.create_trial(config)
    out: list = []
    thread = threading.Thread(target=lambda: out.append(executor.run(store.path, trial_id, config, StopSignal(),
                                                                     lambda tid, batch: None)))
    thread.start()
    wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", "the script starts")
    executor.shutdown(wait=0.5)  # it ignores SIGTERM: SIGKILL follows
    thread.join(WAIT)
    assert not alive(int(pid_file.read_text()))
    finished = out[0]
    assert finished.state is TrialState.CANCELLED
    assert finished.reason.startswith("stopped: tunedeck shut its script executor down")
    assert "SIGKILL, as tunedeck shut down" in finished.reason
    assert store.trial(trial_id).state is TrialState.CANCELLED
    with pytest.raises(RuntimeError, match="shut down"):
        executor.run(store.path, store.create_trial(config), config, StopSignal(), lambda tid, batch: None)
