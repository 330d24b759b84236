"""run.gpus_per_trial under the supervisor (the cockpit's and --detach's trainer): trials that take half a
GPU share one GPU, and a trial that takes a whole one gets a trainer placed for it.

The GPUs are fake: nvidia-smi is a shell script on PATH printing two made-up GPUs (this machine has
none), so what is checked is the CUDA_VISIBLE_DEVICES each trainer child starts with, read from /proc.
The supervisor, its trainers, the training and the store are real.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.states import TrialState
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import LONG, toy, trainer_pid, wait_until

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads a child's environment")


def _visible(pid: int) -> str | None:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode("utf-8", "replace")
    env = dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
    return env.get("CUDA_VISIBLE_DEVICES")


def _fake_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\necho '0, NVIDIA H100 80GB HBM3, 80000'\necho '1, NVIDIA H100 80GB HBM3, 80000'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def _running(supervised: Supervised, *ids: int) -> bool:
    return all(supervised.store.trial(i).state is TrialState.RUNNING for i in ids)


def test_two_half_gpu_trials_share_one_gpu_and_a_whole_gpu_trial_gets_its_own(
        supervised: Supervised, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpus(tmp_path, monkeypatch)
    store, client = supervised.store, supervised.client
    halves = [client.enqueue(toy(name=f"half-{i}", **LONG, **{"run.gpus_per_trial": 0.5})) for i in range(2)]
    client.set_parallel(2)
    wait_until(lambda: _running(supervised, *halves), "both half-GPU trials train at once")
    pids = [trainer_pid(store, i) for i in halves]
    supervised.watch(*pids)
    assert pids[0] != pids[1]
    shared = _visible(pids[0])
    assert shared in ("0", "1") and _visible(pids[1]) == shared  # packed onto one GPU, the other left free
    client.cancel(halves[0])
    wait_until(lambda: store.trial(halves[0]).state.is_finished, "the first half-GPU trial ends")
    whole = client.enqueue(toy(name="whole", **LONG))  # gpus_per_trial 1: not on the half-full GPU 0
    wait_until(lambda: _running(supervised, whole), "the whole-GPU trial trains")
    pid = trainer_pid(store, whole)
    supervised.watch(pid)
    assert _visible(pid) == {"0": "1", "1": "0"}[shared]  # the free GPU, not the half-taken one
    client.stop_all("the test is done")
    wait_until(lambda: all(store.trial(i).state.is_finished for i in (*halves, whole)), "every trial ends")
