"""The supervisor killed, terminated or hung up on: no trainer outlives it, and every trial says how it ended."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from engine.execution.trainer_process import PARENT_GONE_GRACE
from engine.states import TrialState
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import (
    LONG,
    PLUGINS,
    alive,
    descendants,
    reopened,
    supervisor_pid,
    toy,
    trainer_pid,
    wait_until,
)

GONE_WITHIN = 5.0  # seconds a trainer that can stop at its next batch takes to go once its parent died


def _training(supervised: Supervised, config_updates: dict, epochs: int = 2) -> tuple[int, int, int]:
    """Queue a trial and wait until it has committed `epochs` epochs: (trial id, supervisor pid, trainer pid)."""
    store = supervised.store
    trial_id = supervised.client.enqueue(toy(**config_updates))
    pid = supervisor_pid(store)
    assert pid is not None
    wait_until(lambda: store.trial(trial_id).epochs_run >= epochs, f"the trial commits {epochs} epochs")
    trainer = trainer_pid(store, trial_id)
    assert trainer in descendants(pid)
    supervised.watch(pid, *descendants(pid))
    return trial_id, pid, trainer


def test_a_trainer_ends_soon_after_its_supervisor_is_killed_and_its_trial_is_interrupted(
        supervised: Supervised) -> None:
    store = supervised.store
    trial_id, pid, trainer = _training(supervised, LONG)
    children = descendants(pid)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not any(alive(p) for p in children), "every child of the killed supervisor is gone",
               timeout=GONE_WITHIN)
    assert supervisor_pid(store) is None  # the kernel dropped its lock
    with reopened(store) as fresh:  # at the latest, the next open of the store marks it
        record = fresh.trial(trial_id)
        assert record.state is TrialState.INTERRUPTED, record
        assert record.reason is not None and f"pid {pid}" in record.reason
        assert record.epochs_run >= 2
        assert [e["epoch"] for e in fresh.epochs(trial_id)] == list(range(1, record.epochs_run + 1))


def test_a_hung_trial_does_not_keep_its_trainer_alive_after_the_supervisor_is_killed(
        supervised: Supervised, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = supervised.store
    marker = tmp_path / "hung"
    monkeypatch.chdir(PLUGINS)  # the supervisor's trainers import plugins from its working directory
    hang = {"task.name": "tunedeck_test_hang:build", "task.options": {"hang_after": 2, "marker": str(marker)}}
    trial_id, pid, trainer = _training(supervised, {**hang, **LONG})
    wait_until(marker.exists, "the trial hangs in its third epoch")
    assert marker.read_text().strip() == str(trainer)
    children = descendants(pid)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(trainer), "the hung trainer is ended", timeout=PARENT_GONE_GRACE + GONE_WITHIN)
    wait_until(lambda: not any(alive(p) for p in children), "every child of the supervisor is gone")
    record = store.trial(trial_id)  # recorded by the trainer itself before it went: no reopening needed
    assert record.state is TrialState.INTERRUPTED, record
    assert record.reason is not None and f"pid {pid}" in record.reason and "did not stop within" in record.reason
    assert record.epochs_run == 2 and [e["epoch"] for e in store.epochs(trial_id)] == [1, 2]


def test_sigterm_to_the_supervisor_interrupts_its_trial_and_ends_it(supervised: Supervised) -> None:
    store = supervised.store
    trial_id, pid, trainer = _training(supervised, LONG, epochs=1)
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not alive(pid), "the supervisor exits")
    wait_until(lambda: not alive(trainer), "its trainer exits")
    assert supervisor_pid(store) is None
    record = store.trial(trial_id)
    assert record.state is TrialState.INTERRUPTED, record
    assert record.reason is not None and "SIGTERM" in record.reason
    assert record.epochs_run >= 1 and len(store.epochs(trial_id)) == record.epochs_run
    row = store.supervisor_row()
    assert row is not None and row.pid == pid and row.stopped_at is not None


def test_the_supervisor_has_a_session_of_its_own_and_shrugs_off_sighup(supervised: Supervised) -> None:
    store = supervised.store
    trial_id, pid, trainer = _training(supervised, LONG, epochs=1)
    assert os.getsid(pid) == pid != os.getsid(0)  # a session leader: no terminal of ours can hang up on it
    assert os.getsid(trainer) == os.getsid(pid)
    os.kill(pid, signal.SIGHUP)
    before = store.trial(trial_id).epochs_run
    wait_until(lambda: store.trial(trial_id).epochs_run >= before + 2, "the trial keeps training")
    assert store.trial(trial_id).state is TrialState.RUNNING
    assert alive(pid) and alive(trainer) and supervisor_pid(store) == pid
    os.kill(pid, signal.SIGINT)  # nor a stray Ctrl+C
    before = store.trial(trial_id).epochs_run
    wait_until(lambda: store.trial(trial_id).epochs_run >= before + 2, "the trial keeps training")
    assert store.trial(trial_id).state is TrialState.RUNNING and alive(pid) and alive(trainer)
