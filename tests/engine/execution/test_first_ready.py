"""FirstReady: a trial takes the first trainer that is ready, oldest trial first, and never waits for one
that is still starting while another comes free. Fake trainers whose start-up and trials end when the
test says so make every ordering deterministic (no process, no torch)."""
from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.events import StopSignal, Summary, TrialFinished
from engine.execution.executors import FirstReady
from engine.execution.pool import TrialPool
from engine.states import TrialState
from engine.store import Store

WAIT = 30.0


class FakeTrainer:
    """One trainer: ready once its gate opens; each trial runs until the test ends it."""

    pids = itertools.count(1000)

    def __init__(self, name: str, gate: threading.Event, ends: dict[int, threading.Event], ran: list) -> None:
        self.name, self.gate, self.ends, self.ran = name, gate, ends, ran
        self.pid = next(self.pids)
        self.stopped = False

    def prewarm(self, count: int = 1, *, wait: float = 0.0) -> None:
        self.gate.wait(wait)

    @property
    def pinned(self) -> dict[int, int | None]:
        return {} if self.stopped else {self.pid: None}

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event, sink: Any, *,
            judge: Any = None, threads: int | None = None) -> TrialFinished:
        assert self.gate.is_set(), f"trial {trial_id} was handed to {self.name} before it was ready"
        self.ran.append((trial_id, self.name))
        self.ends[trial_id].wait(WAIT)
        return TrialFinished(TrialState.COMPLETED, "ended by the test", Summary(), 0.0)

    def shutdown(self) -> None:
        self.stopped = True


class Machine:
    """Trainers `a`, `b`, ... made in that order, each with a start-up gate the test opens."""

    def __init__(self) -> None:
        self.gates = {name: threading.Event() for name in "abcd"}
        self.ends: dict[int, threading.Event] = {}
        self.ran: list[tuple[int, str]] = []
        self.made: list[FakeTrainer] = []
        self._names = iter("abcd")

    def make(self) -> FakeTrainer:
        name = next(self._names)
        trainer = FakeTrainer(name, self.gates[name], self.ends, self.ran)
        self.made.append(trainer)
        return trainer

    def submit(self, pool: TrialPool, n: int, on_done: Any = None) -> list[int]:
        ids = []
        for _ in range(n):
            trial_id = pool.store.create_trial(Config.from_dict({}))
            self.ends[trial_id] = threading.Event()
            ids.append(pool.submit(Config.from_dict({}), trial_id=trial_id, on_done=on_done))
        return ids


def wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


def test_while_the_second_trainer_starts_the_warm_one_runs_the_queue_in_order(store: Store) -> None:
    machine = Machine()
    executor = FirstReady(machine.make)
    machine.gates["a"].set()
    executor.prewarm(1, wait=WAIT)  # `a` warm, as a supervisor's first trainer is
    pool = TrialPool(store, executor, parallel=2)
    first, second, third, fourth = machine.submit(pool, 4)
    wait_for(lambda: len(machine.made) == 2 and machine.ran == [(first, "a")], "a runs the first, b starts")

    machine.ends[first].set()  # `b` is still starting: the second trial must not wait for it
    wait_for(lambda: len(machine.ran) == 2, "the next trial runs")
    assert machine.ran[1] == (second, "a")
    assert len(machine.made) == 2  # two trials wait, one trainer starts: no third trainer

    machine.gates["b"].set()  # `b` ready: the oldest waiting trial takes it, `a` keeps its own
    wait_for(lambda: len(machine.ran) == 3, "b runs the third trial")
    assert machine.ran[2] == (third, "b")
    assert sorted(pool.running_ids()) == [second, third]  # both slots busy while the fourth waits
    assert pool.waiting_ids() == [fourth]

    machine.ends[second].set()
    wait_for(lambda: len(machine.ran) == 4, "the fourth trial runs")
    assert machine.ran[3] == (fourth, "a")  # on the trainer that came free
    for trial_id in (third, fourth):
        machine.ends[trial_id].set()
    assert pool.wait_idle(WAIT)
    assert [trial for trial, _ in machine.ran] == [first, second, third, fourth]
    pool.shutdown(wait=0)
    assert all(t.stopped for t in machine.made)


def test_a_trial_cancelled_while_it_waits_for_a_trainer_ends_cancelled_without_training(store: Store) -> None:
    machine = Machine()
    executor = FirstReady(machine.make)  # no trainer ready: the trial waits for `a` to start
    pool = TrialPool(store, executor, parallel=1)
    done: list[TrialFinished] = []
    (trial_id,) = machine.submit(pool, 1, on_done=lambda tid, finished, broke: done.append(finished))
    wait_for(lambda: len(machine.made) == 1, "a trainer starts for it")
    assert pool.cancel(trial_id, "not needed after all")
    assert pool.wait_idle(WAIT)
    assert machine.ran == [] and done and done[0].state is TrialState.CANCELLED
    record = store.trial(trial_id)
    assert record.state is TrialState.CANCELLED and record.reason == "not needed after all"
    assert record.started_at is None
    machine.gates["a"].set()  # it comes up afterwards, ready for the next trial
    executor.prewarm(1, wait=WAIT)
    (next_id,) = machine.submit(pool, 1)
    machine.ends[next_id].set()
    assert pool.wait_idle(WAIT)
    assert machine.ran == [(next_id, "a")]
    pool.shutdown(wait=0)


def test_a_trainer_whose_child_died_is_replaced_for_the_next_trial(store: Store) -> None:
    machine = Machine()
    for gate in machine.gates.values():
        gate.set()
    executor = FirstReady(machine.make)
    pool = TrialPool(store, executor, parallel=1)
    (first,) = machine.submit(pool, 1)
    wait_for(lambda: machine.ran == [(first, "a")], "a runs the first trial")
    machine.made[0].stopped = True  # its child died: the executor holds no child any more
    machine.ends[first].set()
    assert pool.wait_idle(WAIT)
    (second,) = machine.submit(pool, 1)
    machine.ends[second].set()
    assert pool.wait_idle(WAIT)
    assert machine.ran == [(first, "a"), (second, "b")]
    assert executor.pinned == {machine.made[1].pid: None}
    pool.shutdown(wait=0)


def test_a_stop_signal_that_says_interrupted_is_recorded_so_for_a_trial_that_never_started(store: Store) -> None:
    machine = Machine()
    executor = FirstReady(machine.make)
    trial_id = store.create_trial(Config.from_dict({}))
    signal = StopSignal()
    signal.stop(TrialState.INTERRUPTED, "its supervisor was terminated")
    finished = executor.run(store.path, trial_id, Config.from_dict({}), signal, lambda tid, batch: None)
    assert finished.state is TrialState.INTERRUPTED and machine.ran == []
    assert store.trial(trial_id).state is TrialState.INTERRUPTED
    executor.shutdown()
