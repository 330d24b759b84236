"""One supervisor per store: the lock makes it unique, and it goes away by itself when idle."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.states import TrialState
from engine.supervisor.__main__ import IDLE_VAR
from engine.supervisor.files import take_lock
from engine.supervisor.launch import ensure_supervisor
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import (
    alive,
    descendants,
    files_of,
    supervisor_pid,
    supervisors_of,
    toy,
    wait_until,
)


def _start(store_path: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine.supervisor", store_path, *extra],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def test_two_clients_starting_the_supervisor_at_once_get_the_same_one(supervised: Supervised) -> None:
    store = supervised.store
    barrier = threading.Barrier(2)
    pids: list[int] = []

    def start() -> None:
        barrier.wait(10)
        pids.append(ensure_supervisor(store.path))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(pids) == 2 and pids[0] == pids[1], pids
    assert supervisor_pid(store) == pids[0]
    wait_until(lambda: supervisors_of(store) == pids[:1], "the second process started has gone (lock held)")
    assert ensure_supervisor(store.path) == pids[0]  # a later client finds it too, and starts nothing
    trial_id = supervised.client.enqueue(toy(**{"optim.max_epochs": 1}))
    wait_until(lambda: store.trial(trial_id).state.is_finished, "the trial ends")
    assert store.trial(trial_id).state is TrialState.COMPLETED
    assert supervisors_of(store) == pids[:1]


def test_of_two_supervisor_processes_started_at_once_one_holds_the_lock_and_the_other_exits_0(
        supervised: Supervised) -> None:
    store = supervised.store
    path = str(store.path.resolve())
    first, second = _start(path, "--idle-exit", "2"), _start(path, "--idle-exit", "2")
    supervised.watch(first.pid, second.pid)
    try:
        wait_until(lambda: first.poll() is not None or second.poll() is not None, "one of the two exits")
        loser, winner = (first, second) if first.poll() is not None else (second, first)
        assert loser.returncode == 0, loser.stderr.read() if loser.stderr else ""
        assert winner.poll() is None
        wait_until(lambda: supervisor_pid(store) == winner.pid, "the winner's pid is the store's supervisor")
        assert take_lock(files_of(store)) is None  # held, by the winner
        assert supervisors_of(store) == [winner.pid]
        # with nothing to do, the winner ends by itself once idle (--idle-exit), with status 0 too
        assert winner.wait(30) == 0
        assert supervisor_pid(store) is None
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
            process.wait(10)
            if process.stderr:
                process.stderr.close()


def test_a_client_probing_the_lock_as_the_supervisor_starts_does_not_keep_it_from_starting(
        supervised: Supervised) -> None:
    """`running_pid` tells a live supervisor by trying its lock for an instant; a supervisor that starts
    in that instant must not take the probe for another supervisor and give up."""
    store = supervised.store
    files = files_of(store)
    probe = take_lock(files)
    assert probe is not None
    process = _start(str(files.store))
    supervised.watch(process.pid)
    try:
        time.sleep(0.5)  # the new process tries the lock while the "probe" holds it
    finally:
        os.close(probe)
    try:
        wait_until(lambda: supervisor_pid(store) == process.pid or process.poll() is not None,
                   "the supervisor takes the lock, or gives up")
        assert process.poll() is None and supervisor_pid(store) == process.pid
        supervised.client.shutdown()
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stderr:
            process.stderr.close()


def test_an_idle_supervisor_exits_by_itself_releasing_the_lock_and_its_pid_file(
        supervised: Supervised, monkeypatch: pytest.MonkeyPatch) -> None:
    store, files = supervised.store, files_of(supervised.store)
    monkeypatch.setenv(IDLE_VAR, "1")
    trial_id = supervised.client.enqueue(toy(**{"optim.max_epochs": 1}))
    pid = supervisor_pid(store)
    assert pid is not None and files.pid.read_text().strip() == str(pid)
    wait_until(lambda: store.trial(trial_id).state.is_finished, "the trial ends")
    assert store.trial(trial_id).state is TrialState.COMPLETED
    finished = store.trial(trial_id).finished_at
    assert supervisor_pid(store) == pid  # not while it had work
    wait_until(lambda: supervisor_pid(store) is None, "the idle supervisor exits", timeout=20)
    wait_until(lambda: not alive(pid), "its process is gone")
    assert not files.pid.exists()
    row = store.supervisor_row()
    assert row is not None and row.pid == pid and row.idle_exit == 1.0
    assert row.stopped_at is not None and finished is not None and row.stopped_at >= finished + 0.8
    lock = take_lock(files)  # released: a new supervisor could take it
    assert lock is not None
    os.close(lock)
    assert not supervised.client.running and supervised.client.status().pid is None


def test_a_trial_queued_while_the_idle_supervisor_is_ending_still_runs(
        supervised: Supervised, monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle supervisor holds its lock until it has wound down; a client that queues a trial then sees
    it running and starts none. The trial must not be left queued with no supervisor to run it."""
    store, client = supervised.store, supervised.client
    monkeypatch.setenv(IDLE_VAR, "1")
    client.ensure()
    pid = supervisor_pid(store)
    assert pid is not None

    def trainers() -> list[int]:
        found = []
        for child in descendants(pid):
            try:
                if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
            except OSError:
                pass
        return found

    wait_until(trainers, "the supervisor's warm trainer starts")
    (trainer,) = trainers()
    supervised.watch(trainer)
    os.kill(trainer, signal.SIGSTOP)  # frozen, it takes the supervisor 2 s to end it: a long wind-down
    wait_until(lambda: (row := store.supervisor_row()) is not None and row.started_at is not None, "it registers")
    row = store.supervisor_row()
    assert row is not None and row.started_at is not None
    time.sleep(max(0.0, row.started_at + 1.6 - time.time()))  # idle for 1 s: it has decided to end by now
    assert supervisor_pid(store) == pid, "the supervisor ended too soon for this test"
    trial_id = client.enqueue(toy(**{"optim.max_epochs": 1}))  # the client sees it, still holding its lock
    wait_until(lambda: store.trial(trial_id).state.is_finished, "the trial queued meanwhile runs")
    assert store.trial(trial_id).state is TrialState.COMPLETED
