"""Executors and the trial queue, training for real: in this thread and in spawned child processes."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.events import EpochEnded, StepLoss, TrialFinished, TrialStarted, TrialState
from engine.execution.executors import ThreadExecutor
from engine.execution.trainer_process import ProcessExecutor, prepare_multiprocessing
from engine.store import Store
from engine.execution.pool import TrialQueue

PLUGINS = Path(__file__).parent / "plugins"


def toy(**updates: object) -> Config:
    base = {"task": {"name": "toy2d", "n_samples": 300}, "optim": {"max_epochs": 3}, "run": {"device": "cpu"}}
    return Config.from_dict(base).with_updates(updates)



@pytest.fixture(scope="module")
def processes() -> ProcessExecutor:
    prepare_multiprocessing()
    executor = ProcessExecutor()
    yield executor
    executor.shutdown()


def test_thread_executor_runs_the_queue_in_order_and_batches_events(store: Store) -> None:
    q = TrialQueue(store, ThreadExecutor())
    first, second = q.submit(toy()), q.submit(toy(**{"optim.lr": 0.1}))
    assert store.trial(second).state is TrialState.QUEUED and q.pending_ids == [first, second]
    assert q.run_next().state is TrialState.COMPLETED
    assert q.run_next().state is TrialState.COMPLETED
    assert q.run_next() is None
    events = q.drain()
    assert [t for t, e in events if isinstance(e, TrialFinished)] == [first, second]
    epochs = [e for t, e in events if t == first and isinstance(e, EpochEnded)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert q._events.qsize() == 0 and q.drain() == []
    assert store.trial(first).state is TrialState.COMPLETED and store.trial(first).epochs_run == 3


def test_cancelling_a_queued_trial_takes_it_out_of_line(store: Store) -> None:
    q = TrialQueue(store, ThreadExecutor())
    keep, drop = q.submit(toy()), q.submit(toy())
    assert q.cancel(drop)
    assert store.trial(drop).state is TrialState.CANCELLED
    assert q.pending_ids == [keep]
    assert not q.cancel(12345)


def test_process_executor_trains_in_a_child_and_reuses_it(store: Store, processes: ProcessExecutor) -> None:
    q = TrialQueue(store, processes)
    ids = [q.submit(toy()), q.submit(toy(**{"optim.lr": 0.05}))]
    for _ in ids:
        assert q.run_next().state is TrialState.COMPLETED
    events = q.drain()
    assert sum(isinstance(e, TrialStarted) for _, e in events) == 2
    assert all(any(isinstance(e, StepLoss) for t, e in events if t == i) for i in ids)
    pids = [store.trial(i).env["pid"] for i in ids]
    assert pids[0] == pids[1] != os.getpid()  # trained elsewhere, by one warm child
    assert [store.trial(i).state for i in ids] == [TrialState.COMPLETED] * 2


def test_process_executor_relays_a_cancel(store: Store, processes: ProcessExecutor) -> None:
    q = TrialQueue(store, processes)
    trial_id = q.submit(toy(**{"optim.max_epochs": 100000, "run.log_every": 1}))
    done: list[TrialFinished | None] = []
    runner = threading.Thread(target=lambda: done.append(q.run_next()))
    runner.start()
    deadline = time.monotonic() + 60
    while not any(isinstance(e, StepLoss) for _, e in q.drain()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert q.running_ids == [trial_id]
    assert q.cancel(trial_id)
    runner.join(60)
    assert not runner.is_alive()
    assert done[0] is not None and done[0].state is TrialState.CANCELLED
    assert store.trial(trial_id).state is TrialState.CANCELLED


def test_a_crashing_child_fails_its_trial_and_the_next_trial_still_runs(
        store: Store, processes: ProcessExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PLUGINS)  # the child imports plugins from the parent's working directory
    q = TrialQueue(store, processes)
    crash = q.submit(toy(**{"task.name": "tunedeck_test_crash:build"}))
    after = q.submit(toy())
    finished = q.run_next()
    assert finished is not None and finished.state is TrialState.FAILED
    assert "killed by signal 9" in finished.reason
    record = store.trial(crash)
    assert record.state is TrialState.FAILED and "killed by signal 9" in record.reason
    assert q.run_next().state is TrialState.COMPLETED
    assert store.trial(after).state is TrialState.COMPLETED


def test_two_trials_at_once_overlap_in_two_children(store: Store) -> None:
    executor = ProcessExecutor()
    try:
        executor.prewarm(2, wait=120)  # both children have imported torch before either trial starts
        q = TrialQueue(store, executor)
        ids = [q.submit(toy(**{"optim.max_epochs": 60, "task.n_samples": 2000, "early_stop.patience": 0}))
               for _ in range(2)]
        threads = [threading.Thread(target=q.run_next) for _ in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        a, b = (store.trial(i) for i in ids)
        assert a.state is TrialState.COMPLETED and b.state is TrialState.COMPLETED
        assert a.env["pid"] != b.env["pid"]
        assert a.started_at < b.finished_at and b.started_at < a.finished_at  # the intervals intersect
    finally:
        executor.shutdown()
