"""Sweeps whose trials train in child processes: two at once on (fake) GPUs, and the thread cap reaching
the trainer process."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from engine.execution.placement import Gpu, Placement
from engine.execution.pool import TrialPool
from engine.execution.trainer_process import ProcessExecutor
from engine.states import TrialState
from engine.store import Store
from engine.sweeps.sweep import Sweep
from tests.engine.sweeps.helpers import PLUGINS, spec_for, sweep_trials, toy


@pytest.fixture(scope="module")
def processes() -> Iterator[ProcessExecutor]:
    """Two warm trainer children shared by this module's process tests.

    The GPUs are fake (this machine may have none): the children only get CUDA_VISIBLE_DEVICES 0 and 1,
    and the trials run on the CPU as their configs say.
    """
    executor = ProcessExecutor(placement=Placement([Gpu(0), Gpu(1)]))  # fake GPUs: each child pinned to one
    try:
        executor.prewarm(2, wait=120)
        yield executor
    finally:
        executor.shutdown()


# --- child processes -----------------------------------------------------------------------------------

def test_parallel_two_really_trains_two_trials_at_once(store: Store, processes: ProcessExecutor,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PLUGINS)  # the children import the plugin from the parent's working directory
    base = toy(**{"task.name": "tunedeck_test_sweep:reports_its_gpu", "task.n_samples": 2000,
                  "optim.max_epochs": 25, "early_stop.patience": 0})
    spec = spec_for(base, strategy="grid", parallel=2, **{"optim.lr": [0.01, 0.03]})
    sweep = Sweep(store, base, spec, TrialPool(store, processes, parallel=0, threads=1))
    assert sweep.run() == "completed"
    a, b = sweep_trials(store, sweep.id)
    assert a.state is TrialState.COMPLETED and b.state is TrialState.COMPLETED
    assert a.epochs_run == b.epochs_run == 25
    assert a.env["pid"] != b.env["pid"] and os.getpid() not in (a.env["pid"], b.env["pid"])
    assert a.started_at < b.finished_at and b.started_at < a.finished_at  # the running intervals intersect
    assert store.sweep(sweep.id).counts == {"completed": 2}
    # each trainer saw the (fake) GPU its child was pinned to, and the two children had different ones
    seen = {t.run_info["info"]["pid"]: t.run_info["info"]["CUDA_VISIBLE_DEVICES"] for t in (a, b)}
    assert sorted(seen.values()) == ["0", "1"]
    assert seen == {pid: str(processes.pinned[pid]) for pid in seen}
    assert set(seen) == {a.env["pid"], b.env["pid"]}


def test_the_sweeps_thread_cap_reaches_the_trainer_process(store: Store, processes: ProcessExecutor) -> None:
    base = toy(**{"run.threads": 2, "optim.max_epochs": 2})
    spec = spec_for(base, strategy="grid", **{"optim.lr": [0.01]})
    capped = Sweep(store, base, spec, TrialPool(store, processes, parallel=0, threads=1))
    assert capped.run() == "completed"
    uncapped = Sweep(store, base, spec, TrialPool(store, processes, parallel=0))  # the same warm child, no cap this time
    assert uncapped.run() == "completed"
    (first,), (second,) = sweep_trials(store, capped.id), sweep_trials(store, uncapped.id)
    assert first.env["pid"] != os.getpid() and second.env["pid"] != os.getpid()
    assert first.run_info["threads"] == 1  # run.threads = 2 asked for more; TUNEDECK_MAX_THREADS=1 won
    assert second.run_info["threads"] == 2  # and the cap does not outlive the trial it was set for
