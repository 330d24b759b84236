"""Where a trial runs: device resolution, mixed-precision checks, torch's CPU thread count, and the GPU
facts stored with a trial (which physical GPU, its peak memory)."""
from __future__ import annotations

import os

import torch

from engine.config.groups import Config
from engine.devices.trial_gpu import GPU_INDEX, GPU_NAME, MIB, PEAK_GPU_MB, physical_gpu
from engine.errors import ConfigError
from engine.training import THREAD_CAP_VAR

# Below this many parameters a second thread gains little on an idle box (x1.1-1.2) and loses a
# lot on a busy one (x0.2): benchmarks/threads.py, figures in docs/performance.md.
SMALL_MODEL_PARAMS = 100_000
# Set by whoever runs several trials at once (a sweep's workers): threads per trial so that the
# trials together do not use more threads than there are cores.


def resolve_device(spec: str) -> torch.device:
    """auto prefers CUDA, then MPS, then the CPU; an explicit device must exist."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("no CUDA device is available on this machine; use auto or cpu",
                              key="run.device", value=spec)
        index = int(spec.split(":")[1]) if ":" in spec else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError(f"this machine has {count} CUDA device(s), numbered 0 to {count - 1}",
                              key="run.device", value=spec)
        return torch.device(spec)
    if spec == "mps" and not _mps_available():
        raise ConfigError("MPS is not available on this machine; use auto or cpu", key="run.device", value=spec)
    return torch.device(spec)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def check_precision(config: Config, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for fp32; mixed precision is refused off CUDA."""
    precision = config.run.precision
    if precision == "fp32":
        return None
    if device.type != "cuda":
        raise ConfigError(f"mixed precision needs a CUDA device; this trial runs on {device}. Use fp32",
                          key="run.precision", value=precision)
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"{torch.cuda.get_device_name(device)} does not support bf16; use fp16 or fp32",
                          key="run.precision", value=precision)
    return torch.bfloat16 if precision == "bf16" else torch.float16


def choose_threads(config: Config, n_params: int) -> int:
    """The configured count; else one thread for small models, and the idle cores for large ones.

    torch's threads spin-wait on each other, so a thread that lands on a core someone else is using
    slows every step down (x0.2-0.4 measured); the 1-minute load average tells how many are idle.
    Either way no more than the cap in TUNEDECK_MAX_THREADS, when parallel trials set one.
    """
    return min(_wanted_threads(config, n_params), thread_cap() or 1 << 16)


def thread_cap() -> int | None:
    raw = os.environ.get(THREAD_CAP_VAR, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _wanted_threads(config: Config, n_params: int) -> int:
    if config.run.threads:
        return config.run.threads
    if n_params < SMALL_MODEL_PARAMS:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def reset_peak_memory(device: str) -> None:
    """Start counting a trial's peak GPU memory from what it holds now (its model and data), so that a
    warm trainer's earlier trials do not count; nothing to do off CUDA. The count is the process's: two
    trials at once on one GPU in one process (the thread executor) share it."""
    cuda = _cuda(device)
    if cuda is not None:
        torch.cuda.reset_peak_memory_stats(cuda)


def peak_memory_facts(device: str) -> dict[str, float]:
    """The trial's peak GPU memory in MiB, as the run info keeps it; empty off CUDA."""
    cuda = _cuda(device)
    if cuda is None:
        return {}
    return {PEAK_GPU_MB: round(torch.cuda.max_memory_allocated(cuda) / MIB, 1)}


def gpu_facts(device: str) -> dict[str, int | str]:
    """Which physical GPU a CUDA trial runs on (its index as nvidia-smi and NVML number it, through
    CUDA_VISIBLE_DEVICES) and its name, stored with the trial's environment so that the device panel
    can show the trials on each GPU; empty off CUDA."""
    cuda = _cuda(device)
    if cuda is None:
        return {}
    facts: dict[str, int | str] = {GPU_NAME: torch.cuda.get_device_name(cuda)}
    index = physical_gpu(cuda.index or 0, os.environ.get("CUDA_VISIBLE_DEVICES"))
    if index is not None:
        facts[GPU_INDEX] = index
    return facts


def _cuda(device: str) -> torch.device | None:
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    cuda = torch.device(device)
    return cuda if cuda.index is not None else torch.device("cuda", torch.cuda.current_device())
