"""Stopping part of a sweep and going on with it later: resume replays what ran and re-runs what was
lost; one trial can be cancelled while its sweep goes on; a trainer stopped by shutdown is cancelled."""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest

from engine.errors import StoreError
from engine.events import TrialFinished
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.execution.trainer_process import ProcessExecutor
from engine.states import TrialState
from engine.store import Store
from engine.sweeps.sweep import Sweep
from tests.engine.sweeps.helpers import WAIT, spec_for, sweep_trials, toy, wait_until

# --- resuming a stopped or interrupted sweep -------------------------------------------------------

def _stop_after(sweep_holder: list, n: int) -> Callable:
    finished: list[int] = []

    def on_trial(trial_id: int, finished_event: TrialFinished, updates: dict) -> None:
        finished.append(trial_id)
        if len(finished) == n:
            sweep_holder[0].stop("stopped by the test")
    return on_trial


def test_a_stopped_grid_resumes_with_only_the_points_it_has_not_run(store: Store) -> None:
    base = toy()
    spec = spec_for(base, strategy="grid", seed=2, **{"optim.lr": [0.1, 0.03, 0.01], "model.hidden": [[4], [8]]})
    holder: list = []
    first = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0), on_trial=_stop_after(holder, 2))
    holder.append(first)
    assert first.run() == "stopped"
    ran_first = {(t.config["optim"]["lr"], tuple(t.config["model"]["hidden"])) for t in sweep_trials(store, first.id)}
    assert len(ran_first) == 2

    again = Sweep.resumed(store, first.id, TrialPool(store, ThreadExecutor(), parallel=0))
    assert again.id == first.id and again.progress().done == 2 and store.sweep(first.id).state == "running"
    assert again.run() == "completed"
    trials = sweep_trials(store, first.id)
    points = [(t.config["optim"]["lr"], tuple(t.config["model"]["hidden"])) for t in trials]
    assert sorted(points) == sorted(itertools.product([0.1, 0.03, 0.01], [(4,), (8,)]))  # each exactly once
    assert [t.name for t in trials] == [f"toy2d-grid #{n}" for n in range(1, 7)]  # numbering goes on
    record = store.sweep(first.id)
    assert record.state == "completed" and record.counts == {"completed": 6} and record.reason == "all 6 trials ran"
    with pytest.raises(Exception, match="has already completed"):
        Sweep.resumed(store, first.id, TrialPool(store, ThreadExecutor(), parallel=0))


def test_a_resumed_sweep_reruns_its_cancelled_trials_and_keeps_its_seed_and_best(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 100_000})
    spec = spec_for(base, strategy="tpe", trials=3, parallel=1, seed=5,
                    **{"optim.lr": {"low": 1e-3, "high": 1e-1, "log": True}})
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    thread = sweep.start()
    wait_until(lambda: bool(sweep.running_ids), "a trial runs")
    sweep.stop("stopped by the test")
    thread.join(WAIT)
    (cancelled,) = sweep_trials(store, sweep.id)
    assert cancelled.state is TrialState.CANCELLED
    assert store.sweep(sweep.id).reason == "stopped by the test after 0 of 3 trials; 1 cancelled, run again on resume"

    store.close()
    with Store(store.path) as reopened:  # another day, another process: only the store carries over
        short = Sweep.resumed(reopened, sweep.id, TrialPool(reopened, ThreadExecutor(), parallel=0), parallel=2)
        assert short.spec.seed == 5 and short.spec.parallel == 2 and short.progress().done == 0
        short.base = short.base.with_updates({"optim.max_epochs": 3})  # finish quickly
        assert short.run() == "completed"
        trials = [t for t in reopened.trials() if t.sweep_id == sweep.id]
        assert [t.state for t in trials] == [TrialState.CANCELLED] + [TrialState.COMPLETED] * 3
        assert reopened.sweep(sweep.id).done == 3 and len(short.values) == 3  # the cancelled one was re-run
        assert short.best is not None and short.best[1] == min(short.values.values())


def test_resume_is_refused_for_a_sweep_that_still_runs_and_for_an_unknown_id(store: Store) -> None:
    spec, base = {"strategy": "random", "optim.lr": [0.1]}, toy().to_dict()
    running = store.create_sweep("alive", spec, base, 2)  # supervised by this very process
    with pytest.raises(Exception, match=r"is still running in process \d+; stop it there first"):
        Sweep.resumed(store, running, TrialPool(store, ThreadExecutor(), parallel=0))
    with pytest.raises(StoreError, match="no sweep with id 42"):
        Sweep.resumed(store, 42, TrialPool(store, ThreadExecutor(), parallel=0))


def test_a_resumed_random_sweep_draws_new_points_not_the_ones_it_ran(store: Store) -> None:
    base = toy()
    spec = spec_for(base, strategy="random", trials=4, seed=11, **{"optim.lr": {"low": 1e-3, "high": 1e-1, "log": True}})
    holder: list = []
    first = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0), on_trial=_stop_after(holder, 2))
    holder.append(first)
    assert first.run() == "stopped"
    assert Sweep.resumed(store, first.id, TrialPool(store, ThreadExecutor(), parallel=0)).run() == "completed"
    lrs = [t.config["optim"]["lr"] for t in sweep_trials(store, first.id)]
    assert len(lrs) == 4 and len(set(lrs)) == 4  # a replayed study must not draw its first points again


def test_one_trial_of_a_sweep_can_be_cancelled_and_the_sweep_goes_on(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 100_000})
    spec = spec_for(base, strategy="grid", **{"optim.lr": [0.1, 0.01]})
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    thread = sweep.start()
    try:
        wait_until(lambda: bool(sweep.running_ids), "the first trial runs")
        first = sweep.running_ids[0]
        assert sweep.cancel_trial(first) and not sweep.cancel_trial(12345)
        wait_until(lambda: sweep.running_ids not in ([], [first]), "the second trial runs")
    finally:
        sweep.stop("enough")
        thread.join(WAIT)
    assert store.trial(first).state is TrialState.CANCELLED
    assert store.trial(first).reason == "cancelled by the user; the sweep went on"
    assert len(sweep_trials(store, sweep.id)) == 2


def test_a_trial_whose_trainer_is_stopped_by_shutdown_is_cancelled_not_failed(store: Store) -> None:
    """A second Ctrl+C shuts the executor down under running trials: they were stopped, they did not fail."""
    executor = ProcessExecutor()
    config = toy(**{"optim.max_epochs": 100_000})
    trial_id = store.create_trial(config)
    result: list = []
    runner = threading.Thread(target=lambda: result.append(
        executor.run(store.path, trial_id, config, threading.Event(), lambda *_: None)))
    runner.start()
    try:
        wait_until(lambda: store.trial(trial_id).state is TrialState.RUNNING, "the trial runs")
    finally:
        executor.shutdown()
        runner.join(WAIT)
    assert result and result[0].state is TrialState.CANCELLED
    record = store.trial(trial_id)
    assert record.state is TrialState.CANCELLED and record.reason.startswith("stopped with tunedeck")


class BrokenExecutor(ThreadExecutor):
    """Fakes an executor that itself breaks (a lost pipe, a bug of ours), which no real trial does on cue."""

    def run(self, *args: object, **kwargs: object) -> TrialFinished:
        raise RuntimeError("boom: the executor broke")


def test_a_sweep_trial_whose_executor_raises_ends_failed_with_the_message_and_stops_the_sweep(store: Store) -> None:
    base = toy()
    spec = spec_for(base, strategy="grid", **{"optim.lr": [0.1, 0.03, 0.01]})
    sweep = Sweep(store, base, spec, TrialPool(store, BrokenExecutor(), parallel=0))
    assert sweep.run() == "stopped"
    trials = sweep_trials(store, sweep.id)
    assert len(trials) == 1  # no point feeding more trials to a broken executor
    assert trials[0].state is TrialState.FAILED
    assert "RuntimeError: boom: the executor broke" in trials[0].reason
    record = store.sweep(sweep.id)
    assert record.state == "stopped" and "boom: the executor broke" in record.reason
