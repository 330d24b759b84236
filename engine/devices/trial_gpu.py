"""What a trial's record says about its GPU: the keys the trainer stores, and reading them back.

The trainer (engine.training.device) writes the physical GPU index and name into the trial's `env`
when it starts and its peak memory (`torch.cuda.max_memory_allocated`, in MiB) into its `run_info`
when it ends; the device panel, `tunedeck show` and the cockpit's detail view read them here. No
torch: the readers run in the cockpit and the CLI.
"""
from __future__ import annotations

from typing import Any

GPU_INDEX = "gpu_index"  # env: the physical index, as nvidia-smi and NVML number the GPUs
GPU_NAME = "gpu_name"  # env
PEAK_GPU_MB = "peak_gpu_mb"  # run_info
MIB = 2**20  # bytes: every memory figure the devices show and trials store is in MiB


def visible_indices(visible: str) -> list[int] | None:
    """The physical GPU indices a CUDA_VISIBLE_DEVICES value names, in CUDA's order; None where it names
    GPUs by UUID or MIG instance (not an index we can map)."""
    names = [p.strip() for p in visible.split(",") if p.strip()]
    return [int(p) for p in names] if all(p.isdigit() for p in names) else None


def physical_gpu(logical: int, visible: str | None) -> int | None:
    """The physical index of CUDA device `logical` under CUDA_VISIBLE_DEVICES (`visible`); None where
    that names GPUs by UUID or MIG instance, or does not reach so far."""
    if visible is None:
        return logical
    indices = visible_indices(visible)
    return indices[logical] if indices is not None and logical < len(indices) else None


def trial_gpu(env: dict[str, Any], device: str | None) -> int | None:
    """The physical GPU a trial ran on: as its trainer stored it, else from an explicit `cuda:N` device
    (exact where nothing narrowed the visible GPUs); None for a CPU trial."""
    index = env.get(GPU_INDEX)
    if isinstance(index, int) and not isinstance(index, bool):
        return index
    if device and device.startswith("cuda"):
        tail = device.partition(":")[2]
        return int(tail) if tail.isdigit() else 0
    return None


def gpu_memory_text(env: dict[str, Any], run_info: dict[str, Any], device: str | None) -> str | None:
    """`peak 1,234.5 MiB on GPU 1 (NVIDIA H100)`, or None for a trial that ran on no GPU."""
    peak = run_info.get(PEAK_GPU_MB)
    index = trial_gpu(env, device)
    if index is None and peak is None:
        return None
    where = f"GPU {index}" if index is not None else "its GPU"
    name = env.get(GPU_NAME)
    where += f" ({name})" if isinstance(name, str) and name else ""
    if isinstance(peak, (int, float)) and not isinstance(peak, bool):
        return f"peak {peak:,.1f} MiB on {where}"
    return f"on {where}, peak memory not recorded (still running, or stopped before its end)"
