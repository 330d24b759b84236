"""Script trials in sweeps: a script without tunedeck tuned through its flags and its stdout, ranked by the
sweep, and the median pruner ending a hopeless script (the executor stops a plain one; a tunedeck one stops
itself)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.ownloop.routing import ScriptRouter
from engine.states import TrialState
from engine.store import Store
from engine.sweeps.results import load_results
from engine.sweeps.sweep import Sweep
from tests.engine.ownloop.script_helpers import fast_executor, script_config, write_script
from tests.engine.sweeps.helpers import spec_for, sweep_trials
from tests.engine.sweeps.test_sweep import seed_where

# val_loss falls with the epochs, from a level set by the learning rate it was given as a flag.
PLAIN = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--optim.lr", dest="lr", type=float, required=True)
parser.add_argument("--optim.max_epochs", dest="epochs", type=int, required=True)
args, _ = parser.parse_known_args()
for epoch in range(1, args.epochs + 1):
    time.sleep(0.05)
    print(f"epoch: {epoch}")
    print(f"val_loss: {args.lr * (1 + 1 / epoch):.6f}")
"""
TUNEDECK = """
import tunedeck
with tunedeck.init() as run:
    lr, epochs = run.config["optim.lr"], run.config["optim.max_epochs"]
    for epoch in range(1, epochs + 1):
        time.sleep(0.05 if lr < 1 else 0.4)  # the hopeless one lasts long enough to be judged as it runs
        run.log(epoch=epoch, train_loss=lr, val_loss=lr * (1 + 1 / epoch))
        if run.should_stop():
            break
"""


def router(store: Store) -> ScriptRouter:
    # A script that reads its stop request gets 10 s to end itself before SIGTERM (1 s was too short
    # for a loaded CI box: the script's exit, with its last commit, took longer and it was killed).
    return ScriptRouter(ThreadExecutor(), fast_executor(store, notice=10.0))


def test_a_grid_sweep_tunes_a_plain_script_through_its_flags_and_ranks_its_points(store: Store,
                                                                                 tmp_path: Path) -> None:
    base = script_config(write_script(tmp_path, "plain.py", PLAIN), **{"task.pass_flags": True,
                                                                        "optim.max_epochs": 3})
    spec = spec_for(base, strategy="grid", parallel=2, **{"optim.lr": [0.3, 0.1, 0.2]})
    sweep = Sweep(store, base, spec, TrialPool(store, router(store), parallel=0))
    assert sweep.run() == "completed"
    trials = sweep_trials(store, sweep.id)
    assert [t.state for t in trials] == [TrialState.COMPLETED] * 3, [t.reason for t in trials]
    assert all(t.epochs_run == 3 for t in trials)
    by_id = {t.id: t.config["optim"]["lr"] for t in trials}
    ranked = [by_id[tid] for tid, _ in sorted(sweep.values.items(), key=lambda kv: kv[1])]
    assert ranked == [0.1, 0.2, 0.3]
    assert sweep.values[sweep.best[0]] == pytest.approx(0.1 * 4 / 3, rel=1e-5)  # its best (last) epoch
    results = load_results(store, sweep.id)
    assert results.best is not None and results.best.values == {"optim.lr": 0.1}
    assert sorted(p.objective for p in results.scored) == pytest.approx([0.1 * 4 / 3, 0.2 * 4 / 3, 0.3 * 4 / 3],
                                                                        rel=1e-5)


@pytest.mark.parametrize("body, who", [(PLAIN, "plain"), (TUNEDECK, "tunedeck")], ids=["plain", "tunedeck"])
def test_the_median_pruner_prunes_a_hopeless_script_trial(store: Store, tmp_path: Path, body: str, who: str) -> None:
    base = script_config(write_script(tmp_path, f"{who}_train.py", body), **{"task.pass_flags": True,
                                                                        "optim.max_epochs": 12})
    spec = spec_for(base, strategy="grid", pruner="median", startup_trials=2, warmup_epochs=0,
                    **{"optim.lr": [0.05, 0.03, 50.0]})
    spec = seed_where(spec, lambda asked: asked[-1]["optim.lr"] == 50.0)  # judged against two finished trials
    sweep = Sweep(store, base, spec, TrialPool(store, router(store), parallel=0))
    assert sweep.run() == "completed"
    by_lr = {t.config["optim"]["lr"]: t for t in sweep_trials(store, sweep.id)}
    hopeless = by_lr[50.0]
    assert hopeless.state is TrialState.PRUNED, hopeless.reason
    assert re.search(r"val_loss .* > median .* at epoch \d+", hopeless.reason or ""), hopeless.reason
    assert 1 <= hopeless.epochs_run < 12
    assert hopeless.stop_request is not None and hopeless.stop_request["state"] == "pruned"
    if who == "plain":  # it cannot read the request: the executor ended it
        assert "SIGTERM, as asked to stop" in (hopeless.reason or "")
    else:  # it read the request and ended itself, between two epochs
        assert "SIGTERM" not in (hopeless.reason or "")
    assert [by_lr[lr].state for lr in (0.05, 0.03)] == [TrialState.COMPLETED] * 2
    assert set(sweep.values) == {by_lr[0.05].id, by_lr[0.03].id}
    assert store.sweep(sweep.id).counts == {"completed": 2, "pruned": 1}
