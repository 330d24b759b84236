"""benchmarks/gpu_check.py where there is no GPU: it says so in one line and exits 0; and the parts of
its logic that need no GPU, run here so that they keep working until it runs on one.

For the logic, the checks' device is set to `cpu` (this machine has no GPU), NVML is the fake module
of tests/engine/devices/fake_nvml.py and nvidia-smi a shell script printing made-up rows: the GPU, its
driver and its tools are what this machine lacks. The trials, store and checkpoints are real.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.engine.devices.fake_nvml import TWO_GPUS, fake_pynvml

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def gpu_check(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import gpu_check

    monkeypatch.setitem(gpu_check.SMALL, "run", {**gpu_check.SMALL["run"], "device": "cpu"})
    return gpu_check


def test_without_cuda_it_says_so_and_exits_0() -> None:
    result = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gpu_check: no CUDA device on this machine") and result.stdout.count("\n") == 1


def test_the_checkpoint_check_resumes_and_compares(gpu_check: ModuleType, tmp_path: Path) -> None:
    ok, text = gpu_check.check_checkpoint(tmp_path)
    assert ok, text
    assert "resumed from epoch 2 on cpu: completed" in text


def test_the_panel_check_compares_with_nvidia_smi(gpu_check: ModuleType, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\necho '0, NVIDIA H100 80GB HBM3, 1100, 81559, 46, 119.52'\n"
                   "echo '1, NVIDIA H100 80GB HBM3, 30700, 81559, 71, [N/A]'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:/usr/bin:/bin")
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(TWO_GPUS))
    ok, text = gpu_check.check_panel(tmp_path)
    assert ok, text
    assert "GPU 1 NVIDIA H100 80GB HBM3 (panel/smi): used 30720/30700 MiB, total 81559/81559 MiB, 71/71 C" in text
    smi.write_text("#!/bin/sh\necho '0, NVIDIA H100 80GB HBM3, 9000, 81559, 46, 119.52'\n")  # GPU 1 missing,
    ok, text = gpu_check.check_panel(tmp_path)  # and GPU 0's memory far from the panel's
    assert not ok and "GPU 1: not in nvidia-smi" in text
