"""GP, CMA-ES and QMC sampling, Hyperband and Wilcoxon pruning and patience, each in a tiny real sweep;
repeats skipped; a config given by hand enqueued into a running sweep runs next."""
from __future__ import annotations

import optuna
import pytest

from engine.errors import ConfigError
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import SweepState, TrialState
from engine.store import Store
from engine.sweeps.sweep import Sweep
from tests.engine.sweeps.helpers import spec_for, sweep_trials, toy, wait_until

RANGES = {"optim.lr": {"low": 1e-3, "high": 0.3, "log": True}, "reg.dropout": {"low": 0.0, "high": 0.4}}


def run(store: Store, base, spec) -> Sweep:
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    assert sweep.run() == SweepState.COMPLETED
    return sweep


@pytest.mark.parametrize(("strategy", "sampler"), [("gp", "GPSampler"), ("cmaes", "CmaEsSampler"),
                                                   ("qmc", "QMCSampler")])
def test_each_new_strategy_runs_a_tiny_sweep_in_its_range(store: Store, strategy: str, sampler: str) -> None:
    base = toy(**{"optim.max_epochs": 1})
    sweep = run(store, base, spec_for(base, strategy=strategy, trials=4, seed=1, sampler_startup_trials=2, **RANGES))
    assert type(sweep.search.study.sampler).__name__ == sampler
    assert store.sweep(sweep.id).spec["optuna"]["sampler"]["class"] == sampler
    trials = sweep_trials(store, sweep.id)
    assert [t.state for t in trials] == [TrialState.COMPLETED] * 4
    points = {(t.config["optim"]["lr"], t.config["reg"]["dropout"]) for t in trials}
    assert len(points) == 4 and all(1e-3 <= lr <= 0.3 and 0 <= d <= 0.4 for lr, d in points)


def test_hyperband_prunes_a_hopeless_trial_and_says_why(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 6})
    spec = spec_for(base, strategy="random", trials=8, seed=0, pruner="hyperband", warmup_epochs=0,
                    **{"optim.lr": [0.05, 1e-6]})  # at 1e-6 the loss never moves: hopeless
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    assert store.sweep(sweep.id).spec["optuna"]["pruner"] == {"class": "HyperbandPruner", "min_resource": 1,
                                                              "max_resource": 6, "reduction_factor": 3,
                                                              "bootstrap_count": 0}
    for lr in (0.05, 0.05, 1e-6):  # the good ones first, so the rung has someone to lose to
        sweep.enqueue({"optim": {"lr": lr}})
    assert sweep.run() == SweepState.COMPLETED
    pruned = [t for t in sweep_trials(store, sweep.id) if t.state is TrialState.PRUNED]
    assert pruned and all(t.config["optim"]["lr"] == 1e-6 for t in pruned)
    assert all("of its Hyperband bracket that reached that rung (hyperband)" in (t.reason or "") for t in pruned)
    assert all(t.epochs_run < 6 for t in pruned)


def test_wilcoxon_and_patience_run_tiny_sweeps_and_every_prune_has_a_reason(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 6})
    for table, words, hopeless in (
            ({"pruner": "wilcoxon"}, "Wilcoxon signed-rank test", (1e-6,)),
            # too high a rate: the loss drops to nothing, then climbs back (patience prunes what gets worse)
            ({"pruner": "none", "pruner_patience": 1}, "over the last 2 epochs is worse than its best before",
             (1.0, 3.0))):
        rates = (0.05, *hopeless)
        spec = spec_for(base, strategy="random", trials=len(rates), seed=0, warmup_epochs=0, **table,
                        **{"optim.lr": list(rates)})
        sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
        for lr in rates:
            sweep.enqueue({"optim": {"lr": lr}})
        assert sweep.run() == SweepState.COMPLETED
        trials = sweep_trials(store, sweep.id)
        pruned = [t for t in trials if t.state is TrialState.PRUNED]
        assert trials[0].state is TrialState.COMPLETED and pruned, table
        assert all(t.config["optim"]["lr"] in hopeless for t in pruned)
        assert all(words in (t.reason or "") for t in pruned), [t.reason for t in pruned]


def test_patience_wraps_any_pruner_and_both_must_agree(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 6})
    spec = spec_for(base, strategy="random", trials=2, seed=0, pruner="hyperband", pruner_patience=2,
                    **{"optim.lr": [0.05, 0.01]})
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    pruner = sweep.search.study.pruner
    assert isinstance(pruner, optuna.pruners.PatientPruner) and pruner._patience == 2
    assert isinstance(pruner._wrapped_pruner, optuna.pruners.HyperbandPruner)
    assert store.sweep(sweep.id).spec["optuna"]["pruner"]["wrapped"]["class"] == "HyperbandPruner"


def test_a_repeated_config_is_skipped_and_said_so(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 1})
    spec = spec_for(base, strategy="random", trials=4, seed=0, **{"optim.lr": [0.01, 0.1]})  # two points only
    notes: list[str] = []
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0), on_note=notes.append)
    assert sweep.run() == SweepState.COMPLETED
    lrs = [t.config["optim"]["lr"] for t in sweep_trials(store, sweep.id)]
    assert sorted(lrs) == [0.01, 0.1]  # each once: the repeats were not trained
    assert notes and all("repeated an earlier trial's" in n for n in notes)
    reason = store.sweep(sweep.id).reason or ""
    assert reason.startswith("the search space was used up after 2 trials")
    assert f"{sweep.search.repeats} repeat(s) of an earlier trial's config skipped" in reason


def test_a_config_enqueued_into_a_running_sweep_runs_next(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 3})
    spec = spec_for(base, strategy="tpe", trials=4, seed=0, **RANGES)
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    thread = sweep.start()
    wait_until(lambda: bool(sweep.running_ids), "the first trial runs")
    sweep.pause()  # so that no other trial starts between counting them and enqueueing
    before = len(sweep_trials(store, sweep.id))
    line = sweep.enqueue({"optim": {"lr": 0.0123}, "reg": {"dropout": 0.25}, "model": {"hidden": [99]}})
    assert line == f"enqueued into sweep {sweep.id}, runs next: lr=0.0123  dropout=0.25"
    sweep.resume()
    thread.join(60)
    trials = sweep_trials(store, sweep.id)
    assert len(trials) == 4 and store.sweep(sweep.id).state == SweepState.COMPLETED
    nxt = trials[before]
    assert (nxt.config["optim"]["lr"], nxt.config["reg"]["dropout"]) == (0.0123, 0.25)
    assert nxt.config["model"]["hidden"] == [8]  # only the searched knobs come from the given config
    assert any(f"trial {nxt.id} runs the config given by hand" in n for n in sweep.notes)


def test_enqueue_refuses_a_value_outside_the_search_and_a_sweep_with_no_trial_left(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 1})
    sweep = Sweep(store, base, spec_for(base, strategy="random", trials=1, seed=0, **RANGES),
                  TrialPool(store, ThreadExecutor(), parallel=0))
    with pytest.raises(ConfigError) as info:
        sweep.enqueue({"optim": {"lr": 0.9}, "reg": {"dropout": 0.1}})
    assert str(info.value) == "optim.lr: is outside this sweep's search (0.001 to 0.3), got 0.9"
    sweep.enqueue({"optim": {"lr": 0.01}, "reg": {"dropout": 0.1}})
    with pytest.raises(ConfigError, match="asked all its 1 planned trials"):
        sweep.enqueue({"optim": {"lr": 0.02}, "reg": {"dropout": 0.1}})
    assert sweep.run() == SweepState.COMPLETED
    assert [t.config["optim"]["lr"] for t in sweep_trials(store, sweep.id)] == [0.01]
