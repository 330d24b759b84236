"""What a trial stores about its GPU: the physical index and name when it starts, its peak memory when it
ends, and how they read back.

The trials here train for real on the CPU. Where a GPU is needed (the CUDA facts and the peak), the three
functions of engine/training/device.py that would ask CUDA are replaced in the runner by stand-ins that
answer as a GPU would: this machine has no GPU.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import engine.execution.runner as runner
from engine.config.presets import load_preset
from engine.devices.trial_gpu import GPU_INDEX, PEAK_GPU_MB, gpu_memory_text, physical_gpu, trial_gpu
from engine.execution.runner import TrialRun
from engine.states import TrialState
from engine.store import Store
from engine.training.device import gpu_facts, peak_memory_facts, reset_peak_memory

FAST = {"optim.max_epochs": 2, "task.n_samples": 200, "run.device": "cpu", "run.checkpoint": "none"}


def train(store: Store) -> int:
    run = TrialRun(store, load_preset("toy2d-mlp").with_updates(FAST))
    events = list(run)
    assert events[-1].state == TrialState.COMPLETED
    return run.trial_id


def test_a_cpu_trial_stores_no_gpu_facts(tmp_path: Path) -> None:
    with Store(tmp_path / "t.db") as store:
        record = store.trial(train(store))
    assert GPU_INDEX not in record.env and PEAK_GPU_MB not in record.run_info
    assert gpu_memory_text(record.env, record.run_info, record.device) is None
    assert gpu_facts("cpu") == {} and peak_memory_facts("cpu") == {}
    assert gpu_facts("cuda:0") == {} and peak_memory_facts("cuda") == {}  # no CUDA here: nothing to say
    reset_peak_memory("cuda")  # and nothing to reset, no error


def test_a_gpu_trial_stores_where_it_ran_and_its_peak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resets: list[str] = []
    monkeypatch.setattr(runner, "gpu_facts", lambda device: {GPU_INDEX: 3, "gpu_name": "NVIDIA A100"})
    monkeypatch.setattr(runner, "reset_peak_memory", resets.append)
    monkeypatch.setattr(runner, "peak_memory_facts", lambda device: {PEAK_GPU_MB: 1536.5})
    with Store(tmp_path / "t.db") as store:
        record = store.trial(train(store))
    assert resets == ["cpu"]  # reset once, when the trial started on its device
    assert record.env[GPU_INDEX] == 3 and record.env["hostname"]  # beside the environment, not instead of it
    assert record.run_info[PEAK_GPU_MB] == 1536.5
    assert record.run_info["n_train"] > 0  # the start's run info kept
    assert gpu_memory_text(record.env, record.run_info, record.device) == "peak 1,536.5 MiB on GPU 3 (NVIDIA A100)"


def test_physical_gpu_through_cuda_visible_devices() -> None:
    assert physical_gpu(0, None) == 0
    assert physical_gpu(1, "4,6") == 6
    assert physical_gpu(0, "GPU-5f1c2d") is None  # a UUID: not guessed
    assert physical_gpu(2, "4,6") is None


def test_trial_gpu_reads_the_record() -> None:
    assert trial_gpu({GPU_INDEX: 2}, "cuda") == 2
    assert trial_gpu({}, "cuda:1") == 1
    assert trial_gpu({}, "cpu") is None and trial_gpu({GPU_INDEX: True}, None) is None
    assert gpu_memory_text({GPU_INDEX: 0}, {}, "cuda").startswith("on GPU 0, peak memory not recorded")
