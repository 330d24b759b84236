"""A snapshot of the box for the device panel and `tunedeck devices`: its GPUs with the trials on each,
its CPUs and memory, and the nodes of a Ray cluster when there is one.

Which trial runs where comes from the store: a running trial's environment names its host and the
physical GPU its trainer was placed on (engine.devices.trial_gpu); NVML's process list places a trial
whose trainer's pid runs on a GPU when its record does not say.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.devices.cluster import NodeStatus, ray_nodes
from engine.devices.host import HostStatus, read_host
from engine.devices.nvml import GpuStatus, read_gpus
from engine.devices.trial_gpu import GPU_INDEX, trial_gpu
from engine.states import TrialState

if TYPE_CHECKING:
    from engine.store import Store, TrialRecord


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    host: HostStatus
    gpus: tuple[GpuStatus, ...]
    gpu_problem: str | None  # why there are no GPUs to show (no NVML, no driver)
    off_gpu: tuple[tuple[int, str], ...]  # running trials of this host on no listed GPU, and their device
    nodes: tuple[NodeStatus, ...]
    ray_problem: str | None
    elsewhere: tuple[tuple[int, str], ...] = ()  # running trials of other hosts no node lists, and the host
    store_problem: str | None = None  # why no trials are shown (no store, a store that failed to read)
    running: tuple[int, ...] = ()  # every running trial of the store, wherever it runs

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def take_snapshot(store: Store | None = None, *, connect_ray: bool = False, store_problem: str | None = None
                  ) -> Snapshot:
    """Read everything now. NVML calls can take tens of milliseconds: call this from a worker thread in a UI."""
    host = read_host()
    gpus, gpu_problem = read_gpus()
    nodes, ray_problem = ray_nodes(connect_ray)
    running: list[TrialRecord] = []
    if store is not None:
        from engine.errors import StoreError

        try:
            running = store.trials(states=(TrialState.RUNNING,))
        except StoreError as exc:
            store_problem = f"cannot read the running trials: {exc}"
    return place(running, host, gpus, nodes, gpu_problem=gpu_problem, ray_problem=ray_problem,
                 store_problem=store_problem)


def place(running: list[TrialRecord], host: HostStatus, gpus: list[GpuStatus], nodes: list[NodeStatus], *,
          gpu_problem: str | None = None, ray_problem: str | None = None, store_problem: str | None = None
          ) -> Snapshot:
    """Put each running trial on its GPU of this host, on a Ray node, or in the lists of the rest."""
    on_gpu: dict[int, list[int]] = {g.index: [] for g in gpus}
    by_pid = {pid: g.index for g in gpus for pid in g.pids}
    on_node: dict[str, list[int]] = {n.hostname: [] for n in nodes}
    here, elsewhere = [], []
    for trial in running:
        env = trial.env or {}
        hostname = str(env.get("hostname") or trial.hostname or "")
        if hostname and hostname != host.hostname:
            if hostname in on_node:
                on_node[hostname].append(trial.id)
            else:
                elsewhere.append((trial.id, hostname))
            continue
        index = trial_gpu(env, trial.device)
        pid = env.get("pid")
        if GPU_INDEX not in env and isinstance(pid, int) and pid in by_pid:  # NVML knows better than `cuda`
            index = by_pid[pid]
        if index in on_gpu:
            on_gpu[index].append(trial.id)
        else:
            here.append((trial.id, trial.device or "starting"))
        if host.hostname in on_node:
            on_node[host.hostname].append(trial.id)
    return Snapshot(
        taken_at=time.time(), host=host, gpus=tuple(g.with_trials(tuple(on_gpu[g.index])) for g in gpus),
        gpu_problem=gpu_problem, off_gpu=tuple(here),
        nodes=tuple(dataclasses.replace(n, trials=tuple(on_node[n.hostname])) for n in nodes),
        ray_problem=ray_problem, elsewhere=tuple(elsewhere), store_problem=store_problem,
        running=tuple(t.id for t in running),
    )
