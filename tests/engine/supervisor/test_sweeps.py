"""Sweeps under the supervisor: resumed once however many ask at once, and paused, unpaused and stopped
through commands."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import SweepState, TrialState
from engine.store import Store
from engine.sweeps.spec import parse_search
from engine.sweeps.sweep import Sweep, SweepError, sweep_name
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import LONG, supervisor_pid, toy, wait_until

# `python -c RESUME STORE SWEEP_ID GO`: resume a sweep in this process, as `tunedeck sweep --resume` does,
# once GO exists (so that two of them try at the same moment). Exit 3: refused.
RESUME = """
import sys, time
from pathlib import Path
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.store import Store
from engine.sweeps.sweep import Sweep, SweepError

store = Store(sys.argv[1])
pool = TrialPool(store, ThreadExecutor(), parallel=0)
print("ready", flush=True)
while not Path(sys.argv[3]).exists():
    time.sleep(0.002)
try:
    sweep = Sweep.resumed(store, int(sys.argv[2]), pool)
except SweepError as exc:
    print(f"refused: {exc}", flush=True)
    sys.exit(3)
print(sweep.run(), flush=True)
"""
LRS = [0.01, 0.02, 0.03]


def _stopped_sweep(store: Store, **base_updates: object) -> int:
    """A grid sweep of three trials, stored and stopped before any ran (as `tunedeck sweep` + Ctrl+C leaves it)."""
    base = toy(**{"optim.max_epochs": 1, **base_updates})
    spec = parse_search({"strategy": "grid", "optim.lr": LRS}, base).with_seed()
    sweep_id = store.create_sweep(sweep_name(base, spec), spec.to_dict(), base.to_dict(), spec.planned)
    store.set_sweep_state(sweep_id, SweepState.STOPPED, "stopped by Ctrl+C after 0 of 3 trials")
    return sweep_id


def _check_ran_once(store: Store, sweep_id: int) -> None:
    record = store.sweep(sweep_id)
    assert record.state is SweepState.COMPLETED, record
    trials = store.trials(sweep_id=sweep_id)
    assert len(trials) == record.planned == 3  # the plan ran once, not twice
    assert sorted(t.config["optim"]["lr"] for t in trials) == LRS
    assert all(t.state is TrialState.COMPLETED for t in trials)


def test_two_processes_resuming_one_sweep_at_once_run_its_plan_once(store: Store, tmp_path: Path) -> None:
    sweep_id = _stopped_sweep(store)
    go = tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-c", RESUME, str(store.path), str(sweep_id), str(go)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        go.touch()
        outcomes = sorted((process.wait(60), process.communicate()[0].strip()) for process in processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert [code for code, _ in outcomes] == [0, 3], outcomes
    assert outcomes[0][1] == "completed"
    refusal = outcomes[1][1]
    assert refusal.startswith(f"refused: sweep {sweep_id} ("), refusal
    assert "just taken by another process" in refusal or "is still running in process" in refusal, refusal
    _check_ran_once(store, sweep_id)


def test_a_sweep_queued_for_the_supervisor_cannot_be_resumed_twice(supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    sweep_id = _stopped_sweep(store, **{"optim.max_epochs": 3})
    client.resume_sweep(sweep_id)
    with pytest.raises(SweepError, match=rf"sweep {sweep_id} \(.*\) is already running .*not resumed twice"):
        client.resume_sweep(sweep_id)
    wait_until(lambda: store.sweep(sweep_id).pid is not None, "the supervisor takes the sweep")
    pid = supervisor_pid(store)
    if store.sweep(sweep_id).state.is_active:  # a foreground resume is refused while the supervisor runs it
        with pytest.raises(SweepError, match=rf"sweep {sweep_id} .* process {pid}"):
            Sweep.resumed(store, sweep_id, TrialPool(store, ThreadExecutor(), parallel=0))
    wait_until(lambda: not store.sweep(sweep_id).state.is_active, "the sweep ends")
    _check_ran_once(store, sweep_id)
    with pytest.raises(SweepError, match="has already completed"):
        client.resume_sweep(sweep_id)


def test_a_sweep_is_paused_unpaused_and_stopped_through_commands(supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    base = toy(**LONG)
    sweep_id = client.start_sweep(base, parse_search({"strategy": "grid", "optim.lr": LRS}, base))

    def running() -> list[int]:
        return [t.id for t in store.trials(sweep_id=sweep_id) if t.state is TrialState.RUNNING]

    def answer(command_id: int) -> str | None:
        command = client.wait(command_id, 10)
        assert command is not None, "the supervisor did not answer"
        return command.result

    wait_until(running, "the sweep's first trial trains")
    (first,) = running()
    assert answer(client.pause_sweep(sweep_id)) == f"sweep {sweep_id} paused"
    assert store.sweep(sweep_id).state is SweepState.PAUSED
    assert client.cancel(first) == f"stopping trial {first}"
    wait_until(lambda: store.trial(first).state.is_finished, "the cancelled trial ends")
    assert store.trial(first).state is TrialState.CANCELLED
    assert answer(client.pause_sweep(sweep_id)) == f"sweep {sweep_id} paused"  # the supervisor is past the cancel
    assert [t.id for t in store.trials(sweep_id=sweep_id)] == [first]  # paused: nothing new started

    assert answer(client.unpause_sweep(sweep_id)) == f"sweep {sweep_id} running"
    wait_until(running, "unpaused, the sweep starts its next trial")
    assert store.sweep(sweep_id).state is SweepState.RUNNING
    (second,) = running()
    assert second != first

    assert answer(client.stop_sweep(sweep_id, "stopped by the test")) == f"stopping sweep {sweep_id}"
    wait_until(lambda: not store.sweep(sweep_id).state.is_active, "the sweep stops")
    record = store.sweep(sweep_id)
    assert record.state is SweepState.STOPPED and record.reason is not None
    assert record.reason.startswith("stopped by the test"), record.reason
    assert store.trial(second).state is TrialState.CANCELLED
    assert answer(client.pause_sweep(sweep_id)) == f"sweep {sweep_id} is not running here"
    assert supervisor_pid(store) is not None  # the supervisor goes on, with nothing to do
