"""A made-up `pynvml` module for tests: this machine has no NVIDIA GPU and no NVML library, so the
device panel's NVML reading is tested against this stand-in, put into sys.modules in its place.

It answers the calls engine/devices/nvml.py makes, with the types nvidia-ml-py returns (memory in
bytes, power in milliwatts, NVMLError and its NotSupported subclass)."""
from __future__ import annotations

import types
from dataclasses import dataclass, field


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):  # noqa: N801 - pynvml's own name
    pass


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801
    pass


@dataclass
class FakeGpu:
    name: str
    used_mb: int
    total_mb: int
    busy: int
    temperature: int
    power_mw: int | None  # None: not supported on this board
    pids: list[int] = field(default_factory=list)


def fake_pynvml(gpus: list[FakeGpu], *, init_error: str | None = None) -> types.ModuleType:
    """A module object that behaves as pynvml does on a machine with `gpus` (or without a driver)."""
    nv = types.ModuleType("pynvml")
    nv.NVMLError = NVMLError  # type: ignore[attr-defined]
    nv.NVML_TEMPERATURE_GPU = 0  # type: ignore[attr-defined]
    nv.shutdowns = 0  # type: ignore[attr-defined]

    def init() -> None:
        if init_error is not None:
            raise NVMLError_LibraryNotFound(init_error)

    def shutdown() -> None:
        nv.shutdowns += 1  # type: ignore[attr-defined]

    def power(i: int) -> int:
        if gpus[i].power_mw is None:
            raise NVMLError_NotSupported("Not Supported")
        return gpus[i].power_mw  # type: ignore[return-value]

    mib = 2**20
    nv.nvmlInit = init  # type: ignore[attr-defined]
    nv.nvmlShutdown = shutdown  # type: ignore[attr-defined]
    nv.nvmlDeviceGetCount = lambda: len(gpus)  # type: ignore[attr-defined]
    nv.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    nv.nvmlDeviceGetName = lambda i: gpus[i].name  # type: ignore[attr-defined]
    nv.nvmlDeviceGetMemoryInfo = lambda i: types.SimpleNamespace(  # type: ignore[attr-defined]
        used=gpus[i].used_mb * mib, total=gpus[i].total_mb * mib, free=(gpus[i].total_mb - gpus[i].used_mb) * mib)
    nv.nvmlDeviceGetUtilizationRates = lambda i: types.SimpleNamespace(gpu=gpus[i].busy, memory=0)  # type: ignore[attr-defined]
    nv.nvmlDeviceGetTemperature = lambda i, sensor: gpus[i].temperature  # type: ignore[attr-defined]
    nv.nvmlDeviceGetPowerUsage = power  # type: ignore[attr-defined]
    nv.nvmlDeviceGetEnforcedPowerLimit = lambda i: 700_000  # type: ignore[attr-defined]
    nv.nvmlDeviceGetComputeRunningProcesses = lambda i: [  # type: ignore[attr-defined]
        types.SimpleNamespace(pid=p, usedGpuMemory=0) for p in gpus[i].pids]
    return nv


TWO_GPUS = [FakeGpu("NVIDIA H100 80GB HBM3", 1024, 81559, 37, 45, 120_000),
            FakeGpu("NVIDIA H100 80GB HBM3", 30720, 81559, 98, 71, None, pids=[4242])]
