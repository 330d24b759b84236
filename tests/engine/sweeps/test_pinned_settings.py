"""Optuna's settings written out and stored with the sweep: the same preset and seed give the same configs
whatever Optuna's defaults, a resumed sweep builds its sampler and pruner from what was stored, and the
importance view says which evaluator judged over how many trials."""
from __future__ import annotations

import dataclasses
import inspect
import sys

import optuna
import pytest

from engine.errors import ConfigError
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import SweepState, TrialState
from engine.store import Store
from engine.sweeps import pinned
from engine.sweeps.importance import importance
from engine.sweeps.results import load_results
from engine.sweeps.sampler import Search
from engine.sweeps.sweep import Sweep
from tests.engine.sweeps.helpers import spec_for, sweep_trials, toy

SPACE = {"optim.lr": {"low": 1e-3, "high": 0.3, "log": True}, "reg.dropout": {"low": 0.0, "high": 0.5},
         "model.hidden": [[8], [4, 4], [16]]}


def asked(search: Search, n: int) -> list[dict]:
    out = []
    for i in range(n):
        point = search.ask()
        assert point is not None
        out.append(point.updates)
        search.tell(point.number, TrialState.COMPLETED, float((i * 7) % 5))
    return out


def test_tpe_gets_every_setting_explicitly_and_the_sweep_stores_them_with_optunas_version(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 1})
    spec = spec_for(base, strategy="tpe", trials=2, seed=11, **SPACE)
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    sampler = sweep.search.study.sampler
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert (sampler._multivariate, sampler._constant_liar, sampler._n_startup_trials) == (False, False, 2)
    stored = store.sweep(sweep.id).spec
    assert stored["optuna"] == {"version": optuna.__version__,
                                "sampler": {"class": "TPESampler", "seed": 11, "n_startup_trials": 2,
                                            "multivariate": False, "constant_liar": False, "group": False,
                                            "n_ei_candidates": 24},
                                "pruner": {"class": "NopPruner"}}
    assert stored["sampler_startup_trials"] == 2 and stored["importance"] == "ped_anova"
    assert (stored["importance_quantile"], stored["importance_min_trials"]) == (0.1, 5)


def test_same_spec_and_seed_give_the_same_configs_whatever_optunas_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_for(toy(), strategy="tpe", trials=12, seed=5, **SPACE)
    before = asked(Search(spec), 12)
    assert before == asked(Search(spec), 12)  # two runs, the same configs
    # Optuna changing its defaults again (as 5.0 did): nothing tunedeck relies on moves.
    init = inspect.unwrap(optuna.samplers.TPESampler.__init__)
    defaults = dict(init.__kwdefaults__)
    monkeypatch.setattr(init, "__kwdefaults__",
                        {**defaults, "multivariate": True, "constant_liar": True, "n_startup_trials": 1,
                         "n_ei_candidates": 3})
    assert asked(Search(spec), 12) == before
    # ...whereas an implicit sampler would have followed the new defaults.
    implicit = optuna.samplers.TPESampler(seed=5)
    assert (implicit._multivariate, implicit._constant_liar, implicit._n_startup_trials) == (True, True, 1)


def test_two_sweeps_of_one_spec_and_seed_train_the_same_configs(store: Store) -> None:
    base = toy(**{"optim.max_epochs": 1})
    spec = spec_for(base, strategy="tpe", trials=4, seed=3, **SPACE)
    runs = []
    for _ in range(2):
        sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
        assert sweep.run() == SweepState.COMPLETED
        runs.append([(t.config["optim"]["lr"], t.config["reg"]["dropout"], tuple(t.config["model"]["hidden"]))
                     for t in sweep_trials(store, sweep.id)])
    assert runs[0] == runs[1] and len(set(runs[0])) == 4


def test_a_resumed_sweep_builds_its_sampler_from_the_stored_settings(store: Store,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    base = toy(**{"optim.max_epochs": 1})
    spec = spec_for(base, strategy="tpe", trials=3, seed=4, pruner="median", **SPACE)
    first = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    store.set_sweep_state(first.id, SweepState.STOPPED, "stopped by the test")
    record = store.sweep(first.id)
    record.spec["optuna"]["version"] = "4.5.0"  # stored under another Optuna
    assert store.request_resume(first.id, record.spec)
    store.set_sweep_state(first.id, SweepState.STOPPED, "stopped by the test")
    # This tunedeck would now pin other settings for a new sweep; the resumed one keeps the stored ones.
    monkeypatch.setattr(pinned, "sampler_settings", lambda spec: {"class": "TPESampler", "seed": 0,
                                                                  "n_startup_trials": 9, "multivariate": True,
                                                                  "constant_liar": True})
    monkeypatch.setattr(pinned, "pruner_settings", lambda spec, epochs: {"class": "NopPruner"})
    again = Sweep.resumed(store, first.id, TrialPool(store, ThreadExecutor(), parallel=0))
    sampler, pruner = again.search.study.sampler, again.search.study.pruner
    assert (sampler._multivariate, sampler._constant_liar, sampler._n_startup_trials) == (False, False, 2)
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    assert again.notes == ["stored with Optuna 4.5.0, running under Optuna " + optuna.__version__ +
                           ": the sampler and pruner keep the stored settings"]
    assert again.run() == SweepState.COMPLETED and len(sweep_trials(store, first.id)) == 3
    # a new sweep of the same spec gets this tunedeck's settings
    fresh = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    assert fresh.search.study.sampler._n_startup_trials == 9


def test_a_strategy_whose_package_is_absent_is_refused_in_one_line_naming_the_extra(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    base = toy()
    spec = spec_for(base, strategy="cmaes", trials=2, **{"optim.lr": {"low": 1e-3, "high": 0.1}})
    monkeypatch.setitem(sys.modules, "cmaes", None)  # hidden: as if it were not installed
    with pytest.raises(ConfigError) as info:
        Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    assert str(info.value) == ("search.strategy: cmaes needs the cmaes package, which is not installed: "
                               "pip install 'tunedeck[cmaes]', got 'cmaes'")
    assert store.sweeps() == []  # refused before anything was stored


def test_importance_says_what_it_rests_on_and_falls_back_below_ped_anovas_minimum(store: Store,
                                                                                  monkeypatch: pytest.MonkeyPatch
                                                                                  ) -> None:
    base = toy(**{"optim.max_epochs": 1})
    spec = spec_for(base, strategy="random", trials=6, seed=2, importance_quantile=0.5, importance_min_trials=3,
                    **SPACE)
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    assert sweep.run() == SweepState.COMPLETED
    results = load_results(store, sweep.id)
    judged = importance(results)  # 6 trials, 3 in the top half: PED-ANOVA judges
    assert (judged.evaluator, judged.trials, judged.note) == ("ped_anova", 6, "by PED-ANOVA over 6 trials")
    assert judged.scores and abs(sum(judged.scores.values()) - 1) < 1e-6

    strict = dataclasses.replace(results, spec=dataclasses.replace(results.spec, importance_quantile=0.1))
    judged = importance(strict)  # 5 in the top 10 % needs 30 trials: fANOVA (3 trials at least) instead
    assert judged.evaluator == "fanova" and judged.scores
    assert judged.note == "by fANOVA over 6 trials (PED-ANOVA needs 30)"

    monkeypatch.setitem(sys.modules, "sklearn", None)  # no scikit-learn: nothing to fall back on
    judged = importance(strict)
    assert judged.evaluator is None and judged.scores == {}
    assert judged.note == ("cannot judge yet: PED-ANOVA needs 30 completed trials (3 trials in its top 10%); fanova "
                           "needs the scikit-learn package, which is not installed: pip install 'tunedeck[search]'")
    few = dataclasses.replace(strict, spec=dataclasses.replace(strict.spec, importance_min_trials=7))
    monkeypatch.delitem(sys.modules, "sklearn")
    assert importance(few).note == ("cannot judge yet: PED-ANOVA needs 70 completed trials (7 trials in its top 10%), "
                                    "fANOVA 7")


def test_a_stored_optuna_table_optuna_refuses_is_one_line_naming_the_key(store: Store) -> None:
    base = toy()
    bad = {"version": "5.1.0", "sampler": {"class": "TPESampler", "seed": 1, "bogus": 4},
           "pruner": {"class": "NopPruner"}}
    spec = spec_for(base, seed=1, optuna=bad, **SPACE)
    with pytest.raises(ConfigError) as info:
        Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    assert info.value.key == "search.optuna.sampler" and "Optuna cannot build TPESampler" in info.value.rule
    with pytest.raises(ConfigError, match="search.optuna: is written by tunedeck"):
        spec_for(base, optuna={"version": 5}, **SPACE)
    assert store.sweeps() == []
