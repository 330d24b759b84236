"""Which device each trainer process gets, and how many torch threads each trial may use.

With k GPUs, every trainer process is pinned to one of them through CUDA_VISIBLE_DEVICES before it
touches CUDA: the GPU with the fewest trainers so far, ties broken by the lowest index (round robin)
or by the most free memory. More trainers than GPUs therefore share them evenly. On the CPU,
N trials at once get cores // N threads each, so together they never ask for more than the cores.

GPUs are found with nvidia-smi, which needs no CUDA context in the supervising process (the UI
never initialises CUDA). The functions take the GPU list as an argument so that tests can hand in
a fake machine.
"""
from __future__ import annotations

import os
import shutil
import subprocess
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
    wanted = [p.strip() for p in raw.split(",") if p.strip()]
    if not all(p.isdigit() for p in wanted):
        return []  # UUIDs or MIG names: leave the environment alone rather than guess
    by_index = {g.index: g for g in gpus}
    return [by_index.get(int(p), Gpu(int(p))) for p in wanted]


class Placement:
    """Hands each new trainer process a GPU; `release` when the process ends."""

    def __init__(self, gpus: Iterable[Gpu], policy: str = ROUND_ROBIN) -> None:
        if policy not in POLICIES:
            raise ValueError(f"placement policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        self.gpus = list(gpus)
        self.policy = policy
        self._load: Counter[int] = Counter()

    @classmethod
    def detect(cls, policy: str = ROUND_ROBIN) -> Placement | None:
        """A placement over this machine's GPUs, or None on a CPU-only machine."""
        gpus = visible(query_gpus(), os.environ)
        return cls(gpus, policy) if gpus else None

    def acquire(self) -> Gpu:
        def key(g: Gpu) -> tuple:
            load = self._load[g.index]
            if self.policy == FREE_MEMORY:
                return (load, -(g.free_mb or 0) / (load + 1), g.index)
            return (load, g.index)

        gpu = min(self.gpus, key=key)
        self._load[gpu.index] += 1
        return gpu

    def release(self, gpu: Gpu) -> None:
        if self._load[gpu.index] > 0:
            self._load[gpu.index] -= 1

    @staticmethod
    def env_for(gpu: Gpu) -> dict[str, str]:
        # nvidia-smi numbers GPUs in PCI bus order; CUDA's default order is fastest first.
        return {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": str(gpu.index)}


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def threads_per_trial(parallel: int, cores: int | None = None) -> int:
    """torch threads for each of `parallel` trials at once so that together they fit the cores."""
    return max(1, (cores or cpu_cores()) // max(1, parallel))
