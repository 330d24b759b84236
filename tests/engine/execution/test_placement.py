"""Which GPU each trainer process gets and how many threads each trial may use, on a fake machine.

Every GPU here is made up (`Gpu(0)`, `Gpu(1)`, nvidia-smi text written by hand): the machine these
tests run on has no GPU, and the placement logic never touches CUDA, so a fake list tests it fully.
"""
from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

import engine.execution.placement as placement_module
from engine.execution.placement import (
    FREE_MEMORY,
    ROUND_ROBIN,
    Gpu,
    Placement,
    parse_nvidia_smi,
    threads_per_trial,
    visible,
)
from engine.execution.trainer_process import ProcessExecutor

TWO = [Gpu(0, "A100"), Gpu(1, "A100")]


def test_round_robin_over_two_gpus_for_four_workers() -> None:
    placement = Placement(TWO, ROUND_ROBIN)
    assert [placement.acquire().index for _ in range(4)] == [0, 1, 0, 1]


def test_a_released_slot_is_taken_next() -> None:
    placement = Placement(TWO)
    first, second = placement.acquire(), placement.acquire()
    assert (first.index, second.index) == (0, 1)
    placement.release(second)
    assert placement.acquire().index == 1  # the freed GPU, not the next in turn
    placement.release(first)
    placement.release(first)  # a double release does not drive the count below zero ...
    assert [placement.acquire().index for _ in range(3)] == [0, 0, 1]  # ... so GPU 0 is not handed out twice more


def test_free_memory_breaks_a_tie_by_the_most_free_memory() -> None:
    gpus = [Gpu(0, "small", free_mb=4_000), Gpu(1, "big", free_mb=70_000), Gpu(2, "mid", free_mb=30_000)]
    placement = Placement(gpus, FREE_MEMORY)
    assert [placement.acquire().index for _ in range(6)] == [1, 2, 0, 1, 2, 0]  # load first, then free memory
    round_robin = Placement(gpus, ROUND_ROBIN)
    assert [round_robin.acquire().index for _ in range(3)] == [0, 1, 2]  # the same tie broken by index


def test_free_memory_unknown_counts_as_none_free() -> None:
    placement = Placement([Gpu(0), Gpu(1, free_mb=100)], FREE_MEMORY)
    assert placement.acquire().index == 1


@pytest.mark.parametrize("n_gpus, workers", [(2, 5), (3, 7), (4, 9), (3, 3)])
def test_more_workers_than_gpus_share_them_evenly(n_gpus: int, workers: int) -> None:
    placement = Placement([Gpu(i) for i in range(n_gpus)])
    load = Counter(placement.acquire().index for _ in range(workers))
    assert set(load) == set(range(n_gpus))
    assert max(load.values()) - min(load.values()) <= 1


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="round_robin, free_memory"):
        Placement(TWO, "packed")


def test_env_for_pins_one_gpu_by_its_physical_index_in_nvidia_smis_order() -> None:
    assert Placement.env_for(Gpu(3)) == {"CUDA_VISIBLE_DEVICES": "3", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


# --- which GPUs are visible ----------------------------------------------------------------------------

FOUR = [Gpu(i, f"gpu{i}") for i in range(4)]


@pytest.mark.parametrize("env, expected", [
    ({}, [0, 1, 2, 3]),
    ({"CUDA_VISIBLE_DEVICES": "2"}, [2]),
    ({"CUDA_VISIBLE_DEVICES": "3,1"}, [3, 1]),
    ({"CUDA_VISIBLE_DEVICES": " 0 , 2 "}, [0, 2]),
    ({"CUDA_VISIBLE_DEVICES": ""}, []),  # an empty list hides every GPU, as CUDA reads it
    ({"CUDA_VISIBLE_DEVICES": "GPU-8f3c1a2e-1b2c-3d4e-5f60-718293a4b5c6"}, []),
    ({"CUDA_VISIBLE_DEVICES": "0,MIG-GPU-8f3c1a2e/1/0"}, []),
])
def test_visible_honours_cuda_visible_devices(env: dict[str, str], expected: list[int]) -> None:
    assert [g.index for g in visible(FOUR, env)] == expected


def test_visible_keeps_what_nvidia_smi_said_about_each_gpu() -> None:
    assert visible(FOUR, {"CUDA_VISIBLE_DEVICES": "1"}) == [Gpu(1, "gpu1")]
    assert visible([], {"CUDA_VISIBLE_DEVICES": "5"}) == [Gpu(5)]  # named but not listed: still pinned by index


def test_detect_finds_nothing_on_a_cpu_machine_and_honours_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placement_module, "query_gpus", list)
    assert Placement.detect() is None
    monkeypatch.setattr(placement_module, "query_gpus", lambda: list(FOUR))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    detected = Placement.detect(FREE_MEMORY)
    assert detected is not None and [g.index for g in detected.gpus] == [2, 3] and detected.policy == FREE_MEMORY


# --- nvidia-smi ----------------------------------------------------------------------------------------

def test_parse_nvidia_smi_reads_real_looking_output_and_skips_junk() -> None:
    text = (
        "0, NVIDIA H100 80GB HBM3, 81003\n"
        "1, NVIDIA GeForce RTX 4090, 23520\r\n"
        "\n"
        "index, name, memory.free [MiB]\n"  # a header, had someone left it on
        "2, Tesla V100-SXM2-16GB, [N/A]\n"
        "3, Vendor, Inc. Card, 1024.5\n"  # a comma inside the name
        "No devices were found\n"
        "Failed to initialize NVML: Driver/library version mismatch\n"
        "garbage\n"
    )
    assert parse_nvidia_smi(text) == [
        Gpu(0, "NVIDIA H100 80GB HBM3", 81003),
        Gpu(1, "NVIDIA GeForce RTX 4090", 23520),
        Gpu(2, "Tesla V100-SXM2-16GB", None),
        Gpu(3, "Vendor, Inc. Card", 1024),
    ]
    assert parse_nvidia_smi("") == []
    assert parse_nvidia_smi("No devices were found\n") == []


# --- threads -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("parallel, cores, threads", [(2, 2, 1), (1, 8, 8), (16, 4, 1), (3, 8, 2), (4, 8, 2),
                                                      (1, 1, 1), (0, 4, 4)])
def test_threads_per_trial_fit_the_cores(parallel: int, cores: int, threads: int) -> None:
    assert threads_per_trial(parallel, cores=cores) == threads
    assert threads * max(1, parallel) <= cores or threads == 1


# --- the process executor pins its children ------------------------------------------------------------

def _environ(pid: int) -> dict[str, str]:
    """The environment a process was started with (after its exec: before it, /proc shows the parent's)."""
    deadline = time.monotonic() + 30
    while b"--multiprocessing-fork" not in Path(f"/proc/{pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, f"process {pid} never became a spawned child"
        time.sleep(0.01)
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads a child's environment from /proc")
def test_process_executor_starts_each_child_with_its_own_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPUs are fake (this machine has none): what is checked is the environment each child starts with.

    The children are read from /proc as soon as they exist and stopped before they finish importing
    torch; tests/engine/sweeps/test_sweep.py trains in children pinned this way and checks what the trainer saw.
    """
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")  # the parent's own value must neither leak nor be lost
    fake = Placement([Gpu(0), Gpu(1)])
    executor = ProcessExecutor(placement=fake)
    try:
        executor.prewarm(2)  # no wait: the environment is fixed when a child starts
        pinned = executor.pinned
        assert sorted(pinned.values()) == [0, 1]
        for pid, index in pinned.items():
            assert pid != os.getpid()
            assert _environ(pid)["CUDA_VISIBLE_DEVICES"] == str(index)
            assert _environ(pid)["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "7"
    finally:
        for pid in executor.pinned:  # our own children, still importing torch: end them now
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        executor.shutdown()
    assert executor.pinned == {}
    assert [fake.acquire().index for _ in range(2)] == [0, 1]  # shutdown released both GPUs
