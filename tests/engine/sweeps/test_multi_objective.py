"""Multi-objective sweeps in the engine: the settings' rules, the front the running sweep keeps (checked
against Optuna's own best_trials on the same values), and a stopped one resumed with its trials replayed."""
from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import SweepState, TrialState
from engine.store import Store
from engine.sweeps.objectives import dominates, pareto_front
from engine.sweeps.results import load_results
from engine.sweeps.sweep import Sweep
from tests.engine.sweeps.helpers import spec_for, sweep_trials, toy

SPACE = {"optim.lr": {"low": 1e-3, "high": 0.1, "log": True}, "model.hidden": [[2], [8], [32]]}


@pytest.mark.parametrize(("table", "key", "rule"), [
    ({"metric": ["val_loss"]}, "search.metric", "give 2 to 4"),
    ({"metric": ["val_loss", "val_loss"]}, "search.metric", "names a metric more than once"),
    ({"metric": ["val_loss", "size"]}, "search.metric", "must be one of val_loss, val_acc, train_loss, params"),
    ({"metric": ["val_loss", "params"], "direction": "minimize"}, "search.direction", "one direction per metric"),
    ({"metric": ["val_loss", "params"], "pruner": "median"}, "search.pruner", "a pruner judges one objective"),
    ({"metric": ["val_loss", "params"], "strategy": "cmaes"}, "search.strategy", "cmaes weighs one objective"),
    ({"metric": "params"}, "search.metric", "must be one of val_loss, val_acc, train_loss"),
])
def test_bad_objectives_name_the_key_and_the_rule(table: dict, key: str, rule: str) -> None:
    with pytest.raises(ConfigError) as info:
        spec_for(toy(), **table, **SPACE)
    assert info.value.key == key and rule in info.value.rule


def test_directions_follow_each_metric_and_round_trip() -> None:
    spec = spec_for(toy(), metric=["val_acc", "params", "epoch_time"], **SPACE)
    assert spec.goals == (("val_acc", "maximize"), ("params", "minimize"), ("epoch_time", "minimize"))
    assert (spec.metric, spec.direction) == ("val_acc", "maximize") and spec.multi
    assert spec_for(toy(), **spec.to_dict()) == spec


def test_the_front_is_the_non_dominated_set_as_optuna_sees_it_too() -> None:
    values = {1: (0.3, 100.0), 2: (0.2, 300.0), 3: (0.4, 50.0), 4: (0.35, 120.0), 5: (0.2, 300.0), 6: (0.5, 50.0)}
    directions = ["minimize", "minimize"]
    assert pareto_front(values, directions) == [2, 5, 1, 3]  # ties both stay; 4 and 6 are beaten
    assert dominates((0.1, 1.0), (0.2, 1.0), directions) and not dominates((0.2, 1.0), (0.2, 1.0), directions)
    assert pareto_front({1: (0.9, 10.0), 2: (0.8, 5.0)}, ["maximize", "minimize"]) == [1, 2]


def test_a_two_objective_sweep_keeps_its_front_and_resumes_with_its_trials_replayed(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 2})
    spec = spec_for(base, strategy="tpe", trials=6, seed=4, sampler_startup_trials=2,
                    metric=["val_loss", "params"], **SPACE)
    stopper: list[Sweep] = []

    def stop_after_three(trial_id: int, finished: object, updates: dict) -> None:
        if len(stopper[0].values) == 3:
            stopper[0].stop("stopped by the test")

    first = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0), on_trial=stop_after_three)
    stopper.append(first)
    assert first.run() == SweepState.STOPPED
    assert set(first.points) == {t.id for t in sweep_trials(store, first.id) if t.state is TrialState.COMPLETED}

    again = Sweep.resumed(store, first.id, TrialPool(store, ThreadExecutor(), parallel=0))
    assert len(again.search.study.trials) == 3  # replayed with both values
    assert again.run() == SweepState.COMPLETED
    trials = sweep_trials(store, first.id)
    assert len([t for t in trials if t.state is TrialState.COMPLETED]) == 6
    front = [p.trial_id for p in load_results(store, first.id).front]
    assert sorted(front) == sorted(again.front)
    numbers = {number: trial_id for trial_id, number in again._number.items()}
    live = {numbers[t.number] for t in again.search.study.best_trials if t.number in numbers}
    assert live <= set(front)  # Optuna's front of the trials this run asked agrees with ours
