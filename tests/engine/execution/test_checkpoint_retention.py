"""What checkpoints are kept: `last` files go when their trial ends for good, a completed trial's best
stays, `run.keep_best` keeps the K best of a sweep by its objective, and `retention.plan` lists
exactly what `retention.apply` removes (stale records, orphan files, temporary files of a crash),
never a best that is kept. Real training of tiny toy2d trials."""
from __future__ import annotations

import torch

from engine.config.groups import Config
from engine.execution.checkpoints import CheckpointFiles
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.states import TrialState
from engine.store import Store
from engine.sweeps import retention
from engine.sweeps.results import load_results
from engine.sweeps.spec import parse_search
from engine.sweeps.sweep import Sweep
from engine.training.checkpoint import BEST, LAST
from tests.engine.execution.checkpoint_helpers import files, kinds, run, toy

LRS = [0.1, 0.03, 0.01, 0.003]


def ranked(store: Store, trial_ids: list[int]) -> list[int]:
    """Trial ids by their best val_loss over their epochs, best first (the sweep's objective)."""
    best = {t: min(row["val_loss"] for row in store.epochs(t)) for t in trial_ids}
    return sorted(trial_ids, key=best.__getitem__)


def test_a_completed_trial_keeps_its_best_and_drops_its_lasts(store: Store) -> None:
    ran = run(store, toy())
    assert ran.finished is not None and ran.finished.state is TrialState.COMPLETED
    record = store.trial(ran.trial_id)
    assert kinds(store, ran.trial_id) == {BEST: [record.best_epoch]}
    assert files(store.artifacts) == {store.artifacts / str(ran.trial_id) / "best.pt"}
    assert retention.plan(store) == []


def _sweep_of_trials(store: Store, base: Config) -> tuple[int, list[int]]:
    """A sweep record with `run.keep_best` in its base, and its trials trained one by one through TrialRun
    (so that nothing applies keep_best as they end: only `plan` does)."""
    spec = parse_search({"strategy": "grid", "optim.lr": LRS}, base)
    sweep_id = store.create_sweep("by-hand", spec.to_dict(), base.to_dict(), spec.planned)
    ids = [run(store, base.with_updates({"optim.lr": lr}), sweep_id=sweep_id).trial_id for lr in LRS]
    return sweep_id, ids


def test_plan_lists_exactly_what_apply_removes_and_never_a_kept_best(store: Store) -> None:
    sweep_id, swept = _sweep_of_trials(store, toy(**{"run.keep_best": 2}))
    kept_best, dropped_best = ranked(store, swept)[:2], ranked(store, swept)[2:]
    cancelled = run(store, toy(), stop_at_epoch=2).trial_id  # can resume: its lasts and best stay
    completed = run(store, toy(**{"optim.lr": 0.02})).trial_id
    # a `last` left by a completed trial (a crash between its end and the removal of its lasts)
    CheckpointFiles(store, completed).write(LAST, {"format": 1, "kind": LAST, "w": torch.zeros(4)}, 6)
    stale = store.checkpoints(completed, LAST)[0]
    orphan = store.artifacts / "77" / "last-5.pt"  # no record names it
    orphan.parent.mkdir()
    orphan.write_bytes(b"x" * 100)
    crashed = store.artifacts / str(completed) / ".best.pt.4242.tmp"  # a write that never finished
    crashed.write_bytes(b"y" * 10)

    plan = retention.plan(store)
    planned = {r.path for r in plan}
    assert planned == {stale.path, orphan, crashed} | {store.artifacts / str(t) / "best.pt" for t in dropped_best}
    assert len(plan) == len(planned)
    why = {r.path: r.why for r in plan}
    assert why[stale.path] == f"trial {completed} is completed: it cannot be resumed"
    assert why[orphan] == "no trial's checkpoint" and why[crashed] == "left by a crash while writing"
    for t in dropped_best:
        assert why[store.artifacts / str(t) / "best.pt"] == (f"trial {t} is not among the 2 best of sweep "
                                                             f"{sweep_id} (run.keep_best)")
    kept = {r.path for r in store.checkpoints(kind=BEST) if r.trial_id in (*kept_best, cancelled, completed)}
    kept |= {r.path for r in store.checkpoints(cancelled, LAST)}
    assert len(kept) == 2 + 1 + 1 + 2 and not kept & planned

    before = files(store.artifacts)
    freed = retention.apply(store, plan)
    after = files(store.artifacts)
    assert before - after == planned and after == kept
    assert freed == sum(r.size for r in plan) > 0
    assert {r.path for r in store.checkpoints()} == kept  # the removed files' records went too
    assert retention.plan(store) == []


def test_keep_best_in_a_sweep_leaves_exactly_k_best_files_by_its_objective(store: Store) -> None:
    base = toy(**{"run.keep_best": 2})
    spec = parse_search({"strategy": "grid", "optim.lr": LRS}, base)
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0))
    assert sweep.run() == "completed"
    trials = [t.id for t in store.trials(sweep_id=sweep.id)]
    assert len(trials) == len(LRS)
    best_two = ranked(store, trials)[:2]
    results = load_results(store, sweep.id)
    assert sorted(results.scored, key=lambda p: p.objective)[0].trial_id == best_two[0]  # type: ignore[arg-type, return-value]

    bests = store.checkpoints(kind=BEST)
    assert sorted(r.trial_id for r in bests) == sorted(best_two)
    assert files(store.artifacts) == {r.path for r in bests}
    assert store.checkpoints(kind=LAST) == []
    assert retention.plan(store) == []
