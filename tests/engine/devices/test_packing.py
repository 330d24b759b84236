"""run.gpus_per_trial: the knob's rules and round trip, and fractional trials packed onto one GPU.

The GPUs are made up (`Gpu(0)`, `Gpu(1)`, nvidia-smi text written by hand): this machine has none, and
placement never touches CUDA, so a fake list tests it fully.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.presets import load_preset, save_preset
from engine.errors import ConfigError
from engine.execution.placement import FREE_MEMORY, Gpu, Placement, parse_nvidia_smi

TWO = [Gpu(0, "H100"), Gpu(1, "H100")]


def test_half_gpu_trials_fill_one_gpu_before_the_next() -> None:
    placement = Placement(TWO, share=0.5)
    first, second, third = placement.acquire(), placement.acquire(), placement.acquire()
    assert (first.index, second.index, third.index) == (0, 0, 1)
    assert placement.acquire().index == 1  # GPU 1's second half
    assert [placement.acquire().index for _ in range(2)] == [0, 1]  # all full: shared evenly beyond that


def test_a_released_half_is_packed_again() -> None:
    placement = Placement(TWO, share=0.5)
    gpus = [placement.acquire() for _ in range(3)]  # 0, 0, 1
    placement.release(gpus[0])
    assert placement.acquire().index == 0  # GPU 0 has half free: it is filled before GPU 1's other half


def test_a_third_of_a_gpu_packs_three() -> None:
    placement = Placement(TWO, share=1 / 3)
    assert [placement.acquire().index for _ in range(4)] == [0, 0, 0, 1]


def test_whole_gpus_keep_spreading() -> None:
    assert [Placement(TWO).acquire().index for _ in range(1)] == [0]
    placement = Placement(TWO, share=1.0)
    assert [placement.acquire().index for _ in range(3)] == [0, 1, 0]


def test_packing_starts_on_the_gpu_with_the_most_free_memory() -> None:
    gpus = parse_nvidia_smi("0, H100, 1000\n1, H100, 70000\n")
    placement = Placement(gpus, FREE_MEMORY, share=0.5)
    assert [placement.acquire().index for _ in range(3)] == [1, 1, 0]


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5])
def test_a_share_outside_0_1_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="run.gpus_per_trial must be > 0 and <= 1"):
        Placement(TWO, share=share)


def test_the_knob_round_trips_through_set_and_a_preset(tmp_path: Path) -> None:
    assert load_preset("toy2d-mlp").run.gpus_per_trial == 1.0
    config = load_preset("toy2d-mlp", ["run.gpus_per_trial=0.25"])
    assert config.run.gpus_per_trial == 0.25
    save_preset(config, tmp_path / "p.toml")
    assert "gpus_per_trial = 0.25" in (tmp_path / "p.toml").read_text()
    assert load_preset(tmp_path / "p.toml").run.gpus_per_trial == 0.25


@pytest.mark.parametrize(("value", "rule"), [("0", "must be > 0"), ("1.5", "must be <= 1"), ("half", "must be a number")])
def test_the_knob_refuses_bad_values(value: str, rule: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_preset("toy2d-mlp", [f"run.gpus_per_trial={value}"])
    assert "run.gpus_per_trial" in str(err.value) and rule in str(err.value) and value in str(err.value)


def test_the_knob_applies_only_where_a_gpu_may_be_used() -> None:
    assert load_preset("toy2d-mlp", ["run.device=cuda:1"]).applies("run.gpus_per_trial")
    assert load_preset("toy2d-mlp").applies("run.gpus_per_trial")  # auto
    assert not load_preset("toy2d-mlp", ["run.device=cpu"]).applies("run.gpus_per_trial")
