"""Executors behind the trial pool, training for real: in this thread and in spawned child processes."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.events import EpochEnded, StepLoss, TrialFinished, TrialStarted
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.execution.trainer_process import ProcessExecutor
from engine.states import TrialState
from engine.store import Store
from tests.engine.execution.inbox import EventInbox

PLUGINS = Path(__file__).parents[1] / "plugins"


def toy(**updates: object) -> Config:
    base = {"task": {"name": "toy2d", "n_samples": 300}, "optim": {"max_epochs": 3}, "run": {"device": "cpu"}}
    return Config.from_dict(base).with_updates(updates)



@pytest.fixture(scope="module")
def processes() -> ProcessExecutor:
    executor = ProcessExecutor()
    yield executor
    executor.shutdown()


def pool_of(store: Store, executor: object, parallel: int = 1) -> tuple[TrialPool, EventInbox]:
    inbox = EventInbox()
    return TrialPool(store, executor, parallel=parallel, sink=inbox.put), inbox


def test_thread_executor_runs_trials_in_order_and_batches_events(store: Store) -> None:
    pool, inbox = pool_of(store, ThreadExecutor())
    first, second = pool.submit(toy()), pool.submit(toy(**{"optim.lr": 0.1}))
    assert pool.wait_idle(60)
    events = inbox.drain()
    assert [t for t, e in events if isinstance(e, TrialFinished)] == [first, second]
    epochs = [e for t, e in events if t == first and isinstance(e, EpochEnded)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert inbox.drain() == []
    assert store.trial(first).state is TrialState.COMPLETED and store.trial(first).epochs_run == 3
    assert store.trial(second).state is TrialState.COMPLETED


def test_process_executor_trains_in_a_child_and_reuses_it(store: Store, processes: ProcessExecutor) -> None:
    pool, inbox = pool_of(store, processes)
    ids = [pool.submit(toy()), pool.submit(toy(**{"optim.lr": 0.05}))]
    assert pool.wait_idle(120)
    events = inbox.drain()
    assert sum(isinstance(e, TrialStarted) for _, e in events) == 2
    assert all(any(isinstance(e, StepLoss) for t, e in events if t == i) for i in ids)
    pids = [store.trial(i).env["pid"] for i in ids]
    assert pids[0] == pids[1] != os.getpid()  # trained elsewhere, by one warm child
    assert [store.trial(i).state for i in ids] == [TrialState.COMPLETED] * 2


def test_process_executor_relays_a_cancel(store: Store, processes: ProcessExecutor) -> None:
    pool, inbox = pool_of(store, processes)
    done: list[TrialFinished] = []
    trial_id = pool.submit(toy(**{"optim.max_epochs": 100000, "run.log_every": 1}),
                           on_done=lambda tid, finished, broke: done.append(finished))
    deadline = time.monotonic() + 60
    while not any(isinstance(e, StepLoss) for _, e in inbox.drain()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.running_ids() == [trial_id]
    assert pool.cancel(trial_id)
    assert pool.wait_idle(60)
    assert done and done[0].state is TrialState.CANCELLED
    assert store.trial(trial_id).state is TrialState.CANCELLED


def test_a_crashing_child_fails_its_trial_and_the_next_trial_still_runs(
        store: Store, processes: ProcessExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PLUGINS)  # the child imports plugins from the parent's working directory
    pool, _ = pool_of(store, processes)
    crash = pool.submit(toy(**{"task.name": "tunedeck_test_crash:build"}))
    after = pool.submit(toy())
    assert pool.wait_idle(120)
    record = store.trial(crash)
    assert record.state is TrialState.FAILED and "killed by signal 6" in record.reason
    assert store.trial(after).state is TrialState.COMPLETED


def test_two_trials_at_once_overlap_in_two_children(store: Store) -> None:
    executor = ProcessExecutor()
    try:
        executor.prewarm(2, wait=120)  # both children have imported torch before either trial starts
        pool, _ = pool_of(store, executor, parallel=2)
        ids = [pool.submit(toy(**{"optim.max_epochs": 60, "task.n_samples": 2000, "early_stop.patience": 0}))
               for _ in range(2)]
        assert pool.wait_idle(120)
        a, b = (store.trial(i) for i in ids)
        assert a.state is TrialState.COMPLETED and b.state is TrialState.COMPLETED
        assert a.env["pid"] != b.env["pid"]
        assert a.started_at < b.finished_at and b.started_at < a.finished_at  # the intervals intersect
    finally:
        executor.shutdown()
