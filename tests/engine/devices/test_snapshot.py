"""The device snapshot: GPUs through NVML with the running trials on each, the host, and clean lines
when NVML is missing or fails.

NVML is faked (tests/engine/devices/fake_nvml.py, put in sys.modules as `pynvml`): this machine has no
GPU and no NVIDIA driver. The store, its trials and the host's /proc are real.
"""
from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

from engine.config.presets import load_preset
from engine.devices import snapshot_lines, take_snapshot
from engine.devices.host import read_host
from engine.devices.nvml import NOT_INSTALLED, read_gpus
from engine.events import TrialStarted
from engine.store import Store
from tests.engine.devices.fake_nvml import TWO_GPUS, fake_pynvml


def running_trial(store: Store, device: str, **env: object) -> int:
    """A trial recorded as running in this (live) process, its environment as its trainer would store it."""
    trial_id = store.create_trial(load_preset("toy2d-mlp"))
    started = TrialStarted(device, 100, 10, 5, 5, 1, "binary", 1)
    store.start_trial(trial_id, started, {"hostname": socket.gethostname(), "pid": os.getpid(), **env})
    return trial_id


def test_two_gpus_and_the_trials_on_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nv = fake_pynvml(TWO_GPUS)
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    with Store(tmp_path / "t.db") as store:
        placed = running_trial(store, "cuda", gpu_index=1, gpu_name="NVIDIA H100 80GB HBM3")
        by_pid = running_trial(store, "cuda", pid=4242)  # a trainer whose record names no GPU: NVML's pid list does
        on_cpu = running_trial(store, "cpu")
        unlisted = running_trial(store, "cuda:5")  # a GPU NVML does not list (hidden from it, or gone)
        away = running_trial(store, "cuda", hostname="node-b", gpu_index=0)
        snap = take_snapshot(store)
    assert [g.index for g in snap.gpus] == [0, 1]
    assert snap.gpus[0].trials == ()
    assert snap.gpus[1].trials == (placed, by_pid)
    assert snap.off_gpu == ((on_cpu, "cpu"), (unlisted, "cuda:5"))
    assert snap.elsewhere == ((away, "node-b"),)
    second = snap.gpus[1]
    assert (second.memory_used_mb, second.memory_total_mb, second.utilisation, second.temperature) == (30720, 81559, 98, 71)
    assert second.power_w is None and snap.gpus[0].power_w == 120.0  # power not supported on that board: unknown
    assert nv.shutdowns == 1  # NVML is let go after each read
    lines = snapshot_lines(snap)
    assert f"GPU 1 NVIDIA H100 80GB HBM3: 30.0 GiB / 79.6 GiB, 98% busy, 71 C, ? W / 700 W; trials {placed}, {by_pid}" in lines
    assert "GPU 0 NVIDIA H100 80GB HBM3: 1.0 GiB / 79.6 GiB, 37% busy, 45 C, 120 W / 700 W; no trial" in lines
    assert f"CPU: trial {on_cpu}" in lines
    assert f"trials here on no listed GPU: {unlisted} (cuda:5)" in lines
    assert f"trials on other hosts: {away} (node-b)" in lines
    assert json.loads(json.dumps(snap.to_dict()))["gpus"][1]["trials"] == [placed, by_pid]


def test_nvml_not_installed_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    assert read_gpus() == ([], NOT_INSTALLED)
    lines = snapshot_lines(take_snapshot())
    assert f"no GPU: {NOT_INSTALLED}" in lines
    assert lines[1].startswith("CPU: ")


def test_no_driver_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([], init_error="NVML Shared Library Not Found"))
    gpus, problem = read_gpus()
    assert gpus == [] and problem == "no NVIDIA driver: NVML could not start (NVML Shared Library Not Found)"


def test_the_real_nvml_here_gives_gpus_or_a_line_not_a_traceback() -> None:
    """The real NVML, whatever this machine has: GPUs, or no GPU and why in one line."""
    gpus, problem = read_gpus()
    assert gpus or (problem is not None and "\n" not in problem)


def test_a_gpu_nvml_cannot_open_is_listed_unreadable_and_the_others_are_shown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    nv = fake_pynvml(TWO_GPUS + TWO_GPUS[:1])  # faked NVML: three GPUs, the second of which fails to open
    opened = nv.nvmlDeviceGetHandleByIndex

    def handle(i: int) -> int:
        if i == 1:
            raise nv.NVMLError("GPU is lost")
        return opened(i)

    nv.nvmlDeviceGetHandleByIndex = handle
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    gpus, problem = read_gpus()
    assert problem is None and [g.index for g in gpus] == [0, 1, 2]
    assert gpus[0].problem is None and gpus[2].memory_total_mb == 81559
    lines = snapshot_lines(take_snapshot())
    assert "GPU 1: unreadable (NVML cannot read it: GPU is lost); no trial" in lines
    assert any(line.startswith("GPU 2 NVIDIA H100 80GB HBM3: 1.0 GiB / 79.6 GiB") for line in lines)


def test_nvml_failing_mid_read_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    nv = fake_pynvml(TWO_GPUS)

    def lost() -> int:
        raise nv.NVMLError("GPU is lost")

    nv.nvmlDeviceGetCount = lost
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    assert read_gpus() == ([], "NVML failed while reading the GPUs: GPU is lost")
    assert nv.shutdowns == 1


def test_the_host_from_proc(tmp_path: Path) -> None:
    host = read_host()
    assert host.cores >= 1 and host.load is not None
    assert host.memory_total_mb and host.memory_available_mb is not None and host.memory_available_mb <= host.memory_total_mb
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:    8192000 kB\n")
    fake = read_host(meminfo)
    assert (fake.memory_total_mb, fake.memory_available_mb) == (16000, 8000)
    assert read_host(tmp_path / "absent").memory_total_mb is None  # not Linux: unknown, not an error
