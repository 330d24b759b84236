"""The Ray executor against a real two-node Ray cluster on 127.0.0.1 (a head and a second node, each a
`ray start` of its own, two CPUs each, so that two trials fit on each): trials train in warm actors on
both nodes and the test process, the head, records them; the judge's verdict and a cancel reach the
actor; the second node killed with SIGKILL mid-sweep ends its trials `interrupted` and the sweep goes on
on the head. Real training everywhere (tiny toy2d MLPs, fixed seeds); nothing is faked."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'tunedeck[ray]'); not installed here")

from engine.config.groups import Config  # noqa: E402
from engine.events import EpochEnded, StopSignal  # noqa: E402
from engine.execution.pool import TrialPool  # noqa: E402
from engine.execution.ray_actor import RAY_ENV_KEY  # noqa: E402
from engine.execution.ray_executor import RayExecutor  # noqa: E402
from engine.states import SweepState, TrialState  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.sweeps.spec import parse_search  # noqa: E402
from engine.sweeps.sweep import Sweep  # noqa: E402
from tests.engine.execution.ray_cluster import CLUSTER_ENV, LocalCluster  # noqa: E402

SLOTS = 4  # two actors on each node


class Cluster:
    def __init__(self, nodes: LocalCluster, executor: RayExecutor, head: str, worker: str) -> None:
        self.nodes, self.executor, self.head, self.worker = nodes, executor, head, worker


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in CLUSTER_ENV.items():
            mp.setenv(key, value)
        nodes = LocalCluster()
        executor = None
        try:
            nodes.start()
            executor = RayExecutor(address=nodes.address)
            executor.connect()
            deadline = time.monotonic() + 90
            while sum(n["Alive"] for n in ray.nodes()) < 2:
                assert time.monotonic() < deadline, nodes.log("w")
                time.sleep(0.2)
            alive = [n for n in ray.nodes() if n["Alive"]]
            head = next(n["NodeID"] for n in alive if "node:__internal_head__" in n["Resources"])
            worker = next(n["NodeID"] for n in alive if n["NodeID"] != head)
            executor.prewarm(SLOTS, wait=180)  # both nodes' CPUs taken by warm actors: trials go to both
            yield Cluster(nodes, executor, head, worker)
        finally:
            if executor is not None:
                executor.shutdown()
            nodes.stop()


def base_config(epochs: int, samples: int = 1500) -> Config:
    return Config.from_dict({"task": {"name": "toy2d", "n_samples": samples}, "model": {"kind": "mlp", "hidden": [8]},
                             "optim": {"max_epochs": epochs}, "early_stop": {"patience": 0},
                             "run": {"device": "cpu", "seed": 3, "checkpoint": "both", "checkpoint_every": 0}})


def sweep_of(store: Store, executor: RayExecutor, base: Config, trials: int) -> Sweep:
    spec = parse_search({"strategy": "random", "trials": trials, "parallel": SLOTS, "seed": 5, "pruner": "none",
                         "optim.lr": {"low": 1e-3, "high": 1e-1, "log": True}}, base)
    return Sweep(store, base, spec, TrialPool(store, executor, parallel=0))


def node_of(record: object) -> str | None:
    return getattr(record, "env", {}).get(RAY_ENV_KEY, {}).get("node_id")


def test_a_sweep_of_8_trials_completes_on_both_nodes_with_each_trials_node_recorded(
        cluster: Cluster, tmp_path: Path) -> None:
    with Store(tmp_path / "trials.db") as store:
        sweep = sweep_of(store, cluster.executor, base_config(6), 8)
        assert sweep.run() == SweepState.COMPLETED
        trials = store.trials(sweep_id=sweep.id)
        assert len(trials) == 8
        assert {t.state for t in trials} == {TrialState.COMPLETED}
        nodes = {node_of(t) for t in trials}
        assert nodes == {cluster.head, cluster.worker}  # where each ran, and both nodes trained
        for t in trials:
            assert t.epochs_run == 6 and len(store.epochs(t.id)) == 6  # every epoch came back to the head
            where = t.env[RAY_ENV_KEY]
            assert where["pid"] != os.getpid() and where["actor_id"] and where["gpu_ids"] == []
            best = store.checkpoints(t.id, "best")  # written by the head, beside its store, from the actor's payload
            assert best and best[0].path.exists() and best[0].path.is_relative_to(tmp_path)


def test_the_judges_verdict_and_a_cancel_reach_the_actor(cluster: Cluster, tmp_path: Path) -> None:
    config = base_config(40)
    with Store(tmp_path / "trials.db") as store:
        judged: list[int] = []

        def judge(trial_id: int, event: EpochEnded) -> str | None:
            judged.append(event.epoch)
            return "pruned at epoch 2 by the test" if event.epoch == 2 else None

        pruned = store.create_trial(config)
        finished = cluster.executor.run(store.path, pruned, config, StopSignal(), lambda tid, batch: None, judge=judge)
        assert finished.state == TrialState.PRUNED and "epoch 2 by the test" in finished.reason
        assert judged == [1, 2] and store.trial(pruned).epochs_run == 2  # it stopped where it was judged

        cancel = StopSignal()

        def sink(trial_id: int, batch: list) -> None:
            if any(isinstance(e, EpochEnded) for e in batch):
                cancel.stop(TrialState.CANCELLED, "cancelled by the test")

        long = base_config(1000)  # some seconds: the cancel must stop it long before its end
        cancelled = store.create_trial(long)
        finished = cluster.executor.run(store.path, cancelled, long, cancel, sink)
        record = store.trial(cancelled)
        assert finished.state == TrialState.CANCELLED and record.state == TrialState.CANCELLED
        assert record.reason == "cancelled by the test" and 1 <= record.epochs_run < 1000


def test_a_node_killed_mid_sweep_interrupts_its_trials_and_the_sweep_finishes_on_the_head(
        cluster: Cluster, tmp_path: Path) -> None:
    """The last test on the cluster: its second node does not come back."""
    path = tmp_path / "trials.db"
    killed: list[list[int]] = []
    with Store(path) as store:
        sweep = sweep_of(store, cluster.executor, base_config(60, samples=2000), 8)

        def kill_when_the_worker_trains() -> None:
            with Store(path) as reader:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and not killed:
                    running = [t for t in reader.trials(sweep_id=sweep.id) if t.state == TrialState.RUNNING
                               and node_of(t) == cluster.worker and (t.epochs_run or 0) >= 3]
                    if running:
                        cluster.nodes.kill_worker()
                        killed.append([t.id for t in running])
                    time.sleep(0.1)

        watcher = threading.Thread(target=kill_when_the_worker_trains, daemon=True)
        watcher.start()
        state = sweep.run()
        watcher.join(5)
        assert killed, "no trial trained on the second node"
        trials = store.trials(sweep_id=sweep.id)
        # It ran to its end; no silent retry: it ends stopped, its lost trials run again on resume.
        assert state == SweepState.STOPPED and len(trials) == 8
        assert "resuming the sweep runs them again" in (store.sweep(sweep.id).reason or "")
        assert all(t.state.is_finished for t in trials)  # nothing left running or queued
        interrupted = [t for t in trials if t.state == TrialState.INTERRUPTED]
        assert set(killed[0]) <= {t.id for t in interrupted}
        for t in interrupted:
            assert node_of(t) == cluster.worker
            assert "was lost while the trial ran" in (t.reason or "")
            if store.checkpoints(t.id, "last"):  # written on the head: it can go on from there
                assert f"tunedeck resume {t.id}" in (t.reason or "")
        resumable = store.trial(killed[0][0])  # it had trained 3 epochs: its checkpoints came home with them
        lasts = store.checkpoints(resumable.id, "last")
        assert lasts and lasts[0].path.is_relative_to(tmp_path)
        assert store.requeue(resumable.id)  # and it goes on from there, on an actor of the head's node
        finished = cluster.executor.run(store.path, resumable.id, Config.from_dict(resumable.config), StopSignal(),
                                        lambda tid, batch: None)
        again = store.trial(resumable.id)
        assert finished.state == TrialState.COMPLETED and again.epochs_run == 60 and node_of(again) == cluster.head
        assert again.run_info["resumed"][-1]["epoch"] == lasts[0].epoch
        on_head = [t for t in trials if node_of(t) == cluster.head]
        assert on_head and all(t.state == TrialState.COMPLETED for t in on_head)
        later = [t for t in trials if t.id > max(killed[0]) and t.state == TrialState.COMPLETED]
        assert later and all(node_of(t) == cluster.head for t in later)  # the sweep went on, on the head


def test_each_trial_asks_for_its_own_gpu_share_and_none_on_a_cpu_cluster() -> None:
    """No GPU here: the cluster is said to have some (what has_gpus() finds on one); no Ray call is made."""
    executor = RayExecutor(gpus_per_trial=0.5)
    executor._gpus = True
    assert executor._share(Config.from_dict({"run": {"gpus_per_trial": 0.25}})) == 0.25  # packs four on a GPU
    assert executor._share(Config.from_dict({"run": {"gpus_per_trial": 0.25, "device": "cpu"}})) == 0.0
    assert executor._share(None) == 0.5  # a warm actor before any trial: the default share
    executor._gpus = False
    assert executor._share(Config.from_dict({"run": {"gpus_per_trial": 0.25}})) == 0.0  # CPU nodes: one CPU each
