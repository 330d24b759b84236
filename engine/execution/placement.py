"""Which device each trainer process gets, and how many torch threads each trial may use.

With k GPUs, every trainer process is pinned to one of them through CUDA_VISIBLE_DEVICES before it
touches CUDA: the GPU with the fewest trainers so far, ties broken by the lowest index (round robin)
or by the most free memory. More trainers than GPUs therefore share them evenly. A trainer may take
a fraction of a GPU (`run.gpus_per_trial` < 1): then each GPU is filled up to one whole GPU before the
next one is used (0.5: two trainers on GPU 0, the third on GPU 1), and only once every GPU is full
are they shared beyond that, evenly as before. On the CPU,
N trials at once get cores // N threads each, so together they never ask for more than the cores.

GPUs are found with nvidia-smi, which needs no CUDA context in the supervising process (the UI
never initialises CUDA). The functions take the GPU list as an argument so that tests can hand in
a fake machine.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ROUND_ROBIN = "round_robin"
FREE_MEMORY = "free_memory"
POLICIES = (ROUND_ROBIN, FREE_MEMORY)


@dataclass(frozen=True)
class Gpu:
    index: int  # the physical index, as nvidia-smi and CUDA_VISIBLE_DEVICES number them
    name: str = ""
    free_mb: int | None = None


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """Rows of `nvidia-smi --query-gpu=index,name,memory.free --format=csv,noheader,nounits`."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        free = int(float(parts[-1])) if parts[-1].replace(".", "", 1).isdigit() else None
        gpus.append(Gpu(int(parts[0]), ", ".join(parts[1:-1]), free))
    return gpus


def query_gpus() -> list[Gpu]:
    """The machine's NVIDIA GPUs; none when nvidia-smi is missing or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=index,name,memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out)


def visible(gpus: Sequence[Gpu], env: Mapping[str, str]) -> list[Gpu]:
    """The GPUs this process may use: all of them, or those CUDA_VISIBLE_DEVICES already names."""
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return list(gpus)
    from engine.devices.trial_gpu import visible_indices  # here: engine.devices imports this module

    wanted = visible_indices(raw)
    if wanted is None:
        return []  # UUIDs or MIG names: leave the environment alone rather than guess
    by_index = {g.index: g for g in gpus}
    return [by_index.get(i, Gpu(i)) for i in wanted]


class Placement:
    """Hands each new trainer process a GPU; `release` when the process ends.

    `share` is the fraction of a GPU each trainer takes (`run.gpus_per_trial`, in (0, 1]) unless `acquire`
    is given the trainer's own; `release` then takes that share back.
    """

    def __init__(self, gpus: Iterable[Gpu], policy: str = ROUND_ROBIN, share: float = 1.0) -> None:
        if policy not in POLICIES:
            raise ValueError(f"placement policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        if not 0.0 < share <= 1.0:
            raise ValueError(f"run.gpus_per_trial must be > 0 and <= 1, got {share!r}")
        self.gpus = list(gpus)
        self.policy = policy
        self.share = share
        self._load: Counter[int] = Counter()  # trainers on each GPU
        self._shares: dict[int, float] = {}  # GPUs' worth they take, on each GPU
        self._lock = threading.Lock()  # one placement serves every trainer of a supervisor, each its own thread

    @classmethod
    def detect(cls, policy: str = ROUND_ROBIN, share: float = 1.0) -> Placement | None:
        """A placement over this machine's GPUs, or None on a CPU-only machine."""
        gpus = visible(query_gpus(), os.environ)
        return cls(gpus, policy, share) if gpus else None

    def acquire(self, share: float | None = None) -> Gpu:
        """The GPU for the next trainer, which takes `share` of one (default: the placement's). Fractional
        trainers go to the fullest GPU they still fit on (packing); whole ones, and fractional ones once every
        GPU is full, to the least loaded."""
        share = self.share if share is None else share
        with self._lock:
            return self._acquire(share)

    def _acquire(self, share: float) -> Gpu:
        def spare(g: Gpu) -> tuple:
            trainers = self._load[g.index]
            if self.policy == FREE_MEMORY:
                return (-(g.free_mb or 0) / (trainers + 1), g.index)
            return (g.index,)

        fits = [g for g in self.gpus if self._taken(g) + share <= 1.0 + 1e-9]
        if share < 1.0 and fits:
            gpu = min(fits, key=lambda g: (-self._taken(g), *spare(g)))
        else:
            gpu = min(self.gpus, key=lambda g: (self._taken(g), self._load[g.index], *spare(g)))
        self._load[gpu.index] += 1
        self._shares[gpu.index] = self._taken(gpu) + share
        return gpu

    def _taken(self, gpu: Gpu) -> float:
        """How much of `gpu` its trainers take, in GPUs."""
        return self._shares.get(gpu.index, 0.0)

    def release(self, gpu: Gpu, share: float | None = None) -> None:
        """A trainer placed on `gpu` with `share` (default: the placement's) has ended."""
        with self._lock:
            self._release(gpu, share)

    def _release(self, gpu: Gpu, share: float | None) -> None:
        if self._load[gpu.index] > 0:
            self._load[gpu.index] -= 1
            left = self._taken(gpu) - (self.share if share is None else share)
            self._shares[gpu.index] = max(0.0, left) if self._load[gpu.index] else 0.0

    @staticmethod
    def env_for(gpu: Gpu) -> dict[str, str]:
        # nvidia-smi numbers GPUs in PCI bus order; CUDA's default order is fastest first.
        return {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": str(gpu.index)}


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def threads_per_trial(parallel: int, cores: int | None = None) -> int:
    """torch threads for each of `parallel` trials at once so that together they fit the cores."""
    return max(1, (cores or cpu_cores()) // max(1, parallel))
