"""The trial pool: lanes, limits, the one budget of cores, and trials that always end."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.events import TrialFinished
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import MANUAL, TrialPool
from engine.states import TrialState
from engine.store import Store
from tests.engine.execution.inbox import EventInbox

WAIT = 60


def toy(**updates: object) -> Config:
    base = {"task": {"name": "toy2d", "n_samples": 300}, "optim": {"max_epochs": 3}, "run": {"device": "cpu"}}
    return Config.from_dict(base).with_updates(updates)


LONG = {"optim.max_epochs": 100_000, "early_stop.patience": 0}


class RecordingExecutor(ThreadExecutor):
    """Trains for real in this thread, and notes the torch thread cap the pool passed for each trial."""

    def __init__(self) -> None:
        self.threads: dict[int, int | None] = {}

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event, sink: Any, *,
            judge: Any = None, threads: int | None = None) -> TrialFinished:
        self.threads[trial_id] = threads
        return super().run(store_path, trial_id, config, cancel, sink, judge=judge, threads=threads)


class BrokenExecutor(ThreadExecutor):
    """Fakes an executor that itself breaks (a lost pipe, a bug of ours): the trial never trains."""

    def run(self, *args: Any, **kwargs: Any) -> TrialFinished:
        raise RuntimeError("boom: the executor broke")


def wait_until(condition: Any, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def test_a_trial_whose_executor_raises_ends_failed_with_the_message_and_the_next_one_runs(store: Store) -> None:
    inbox = EventInbox()
    pool = TrialPool(store, BrokenExecutor(), sink=inbox.put)
    ended: list[tuple[int, TrialFinished, bool]] = []
    first = pool.submit(toy(), on_done=lambda tid, finished, broke: ended.append((tid, finished, broke)))
    assert pool.wait_idle(WAIT)
    record = store.trial(first)
    assert record.state is TrialState.FAILED
    assert "RuntimeError: boom: the executor broke" in record.reason
    assert ended and ended[0][0] == first and ended[0][1].state is TrialState.FAILED and ended[0][2] is True
    assert [e.state for t, e in inbox.drain() if t == first] == [TrialState.FAILED]  # the UI hears of it too
    pool.executor = ThreadExecutor()  # the pool itself is unharmed: the next trial trains
    second = pool.submit(toy())
    assert pool.wait_idle(WAIT)
    assert store.trial(second).state is TrialState.COMPLETED


def test_a_lane_runs_at_most_its_limit_and_a_raised_limit_starts_waiting_trials(store: Store) -> None:
    pool = TrialPool(store, ThreadExecutor(), parallel=1)
    ids = [pool.submit(toy(**LONG)) for _ in range(3)]
    wait_until(lambda: pool.running_ids() == [ids[0]], "the first trial runs")
    assert pool.waiting_ids() == ids[1:]
    assert store.trial(ids[1]).state is TrialState.QUEUED
    pool.set_parallel(2)
    wait_until(lambda: sorted(pool.running_ids()) == ids[:2], "a second trial starts")
    assert pool.waiting_ids() == [ids[2]]
    assert pool.cancel(ids[2])  # a waiting trial leaves the line, recorded as cancelled
    assert store.trial(ids[2]).state is TrialState.CANCELLED and pool.waiting_ids() == []
    assert not pool.cancel(12345)
    pool.cancel_all("enough")
    assert pool.wait_idle(WAIT)
    assert [store.trial(i).state for i in ids[:2]] == [TrialState.CANCELLED] * 2


def test_a_lowered_limit_lets_running_trials_finish_and_starts_no_new_one(store: Store) -> None:
    pool = TrialPool(store, ThreadExecutor(), parallel=2)
    running = [pool.submit(toy(**LONG)) for _ in range(2)]
    wait_until(lambda: len(pool.running_ids()) == 2, "two trials run")
    pool.set_parallel(1)
    waiting = pool.submit(toy())
    pool.cancel(running[0])
    wait_until(lambda: store.trial(running[0]).state.is_finished, "the cancelled trial ends")
    time.sleep(0.3)
    assert pool.waiting_ids() == [waiting]  # one still runs, and one at a time is the limit now
    pool.cancel(running[1])
    assert pool.wait_idle(WAIT)
    assert store.trial(waiting).state is TrialState.COMPLETED


def test_lanes_share_one_budget_of_cores(store: Store) -> None:
    executor = RecordingExecutor()
    pool = TrialPool(store, executor, parallel=1, cores=8)
    alone = pool.submit(toy())
    assert pool.wait_idle(WAIT)
    pool.open_lane("sweep-1", 3)
    shared = pool.submit(toy(), lane="sweep-1")
    assert pool.wait_idle(WAIT)
    pool.close_lane("sweep-1")
    assert pool.slots == 1
    assert executor.threads[alone] is None  # one trial at a time: the trainer chooses by measurement
    assert executor.threads[shared] == 2  # 8 cores among 1 manual + 3 sweep slots


def test_a_lane_must_be_opened_before_use_and_closing_it_cancels_its_waiting_trials(store: Store) -> None:
    pool = TrialPool(store, ThreadExecutor(), parallel=0)
    try:
        pool.submit(toy(), lane="nowhere")
    except ValueError as exc:
        assert "nowhere" in str(exc)
    else:
        raise AssertionError("a trial was accepted into a lane that was never opened")
    assert store.trials() == []  # nothing stored for a refused trial
    pool.open_lane("sweep-2", 1)
    first = pool.submit(toy(**LONG), lane="sweep-2")
    second = pool.submit(toy(), lane="sweep-2")
    wait_until(lambda: pool.running_ids("sweep-2") == [first], "the lane's first trial runs")
    assert pool.running_ids(MANUAL) == []
    pool.close_lane("sweep-2")
    assert pool.wait_idle(WAIT)
    assert store.trial(second).state is TrialState.CANCELLED
    assert store.trial(first).state is TrialState.CANCELLED


def test_shutdown_cancels_what_runs_and_refuses_new_trials(store: Store) -> None:
    pool = TrialPool(store, ThreadExecutor())
    trial_id = pool.submit(toy(**LONG))
    wait_until(lambda: store.trial(trial_id).state is TrialState.RUNNING, "the trial runs")
    pool.shutdown("stopped: the test ended", wait=WAIT)
    assert not pool.busy
    assert store.trial(trial_id).state is TrialState.CANCELLED
    try:
        pool.submit(toy())
    except RuntimeError as exc:
        assert "shut down" in str(exc)
    else:
        raise AssertionError("a shut-down pool took a trial")
