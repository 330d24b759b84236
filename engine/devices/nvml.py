"""Each local NVIDIA GPU as NVML sees it: name, memory, utilisation, temperature, power, processes.

NVML comes from the `nvidia-ml-py` package (`import pynvml`), imported only here and only when
asked; without it, or without a driver, `read_gpus` says why in one line instead of raising. NVML
numbers the GPUs in PCI bus order, as nvidia-smi and the placement (CUDA_DEVICE_ORDER=PCI_BUS_ID) do.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from engine.devices.trial_gpu import MIB
from engine.errors import safe_text

T = TypeVar("T")
NOT_INSTALLED = "no GPU information: the nvidia-ml-py package (NVML) is not installed (pip install nvidia-ml-py)"


@dataclass(frozen=True)
class GpuStatus:
    index: int
    name: str
    memory_used_mb: int | None = None
    memory_total_mb: int | None = None
    utilisation: int | None = None  # percent of the last sample period with a kernel running
    temperature: int | None = None  # degrees Celsius
    power_w: float | None = None
    power_limit_w: float | None = None
    pids: tuple[int, ...] = ()  # compute processes on it
    trials: tuple[int, ...] = ()  # the store's running trials placed here (filled in by the snapshot)
    problem: str | None = None  # why NVML could not read this GPU (the others are still shown)

    def with_trials(self, trials: tuple[int, ...]) -> GpuStatus:
        return replace(self, trials=trials)


def read_gpus() -> tuple[list[GpuStatus], str | None]:
    """The GPUs, or none and the reason in one line (no NVML, no driver, NVML failing)."""
    try:
        import pynvml
    except ImportError:
        return [], NOT_INSTALLED
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError, OSError) as exc:
        return [], f"no NVIDIA driver: NVML could not start ({safe_text(str(exc), 200)})"
    try:
        count = pynvml.nvmlDeviceGetCount()
        gpus = [_read_or_say_why(pynvml, i) for i in range(count)]
    except (pynvml.NVMLError, OSError) as exc:
        return [], f"NVML failed while reading the GPUs: {safe_text(str(exc), 200)}"
    finally:
        _quietly(pynvml, pynvml.nvmlShutdown)
    return gpus, (None if gpus else "NVML found no GPU")


def _read_or_say_why(nv: Any, index: int) -> GpuStatus:
    """One GPU; one that NVML cannot open (a fallen-off or faulty board) is listed as unreadable, so that
    it does not hide the others."""
    try:
        return _read_one(nv, index)
    except (nv.NVMLError, OSError) as exc:
        return GpuStatus(index=index, name="?", problem=f"NVML cannot read it: {safe_text(str(exc), 200)}")


def _read_one(nv: Any, index: int) -> GpuStatus:
    handle = nv.nvmlDeviceGetHandleByIndex(index)
    name = _quietly(nv, lambda: nv.nvmlDeviceGetName(handle))
    memory = _quietly(nv, lambda: nv.nvmlDeviceGetMemoryInfo(handle))
    rates = _quietly(nv, lambda: nv.nvmlDeviceGetUtilizationRates(handle))
    temperature = _quietly(nv, lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU))
    power = _quietly(nv, lambda: nv.nvmlDeviceGetPowerUsage(handle))  # milliwatts
    limit = _quietly(nv, lambda: nv.nvmlDeviceGetEnforcedPowerLimit(handle))
    processes = _quietly(nv, lambda: nv.nvmlDeviceGetComputeRunningProcesses(handle)) or []
    if isinstance(name, bytes):  # older bindings
        name = name.decode("utf-8", "replace")
    return GpuStatus(
        index=index, name=str(name or f"GPU {index}"),
        memory_used_mb=int(memory.used // MIB) if memory is not None else None,
        memory_total_mb=int(memory.total // MIB) if memory is not None else None,
        utilisation=int(rates.gpu) if rates is not None else None,
        temperature=int(temperature) if temperature is not None else None,
        power_w=power / 1000 if power is not None else None,
        power_limit_w=limit / 1000 if limit is not None else None,
        pids=tuple(sorted(int(p.pid) for p in processes)),
    )


def _quietly(nv: Any, read: Callable[[], T]) -> T | None:
    """One reading; None where this GPU does not support it (power on some boards, processes in a container)."""
    try:
        return read()
    except nv.NVMLError:
        return None
