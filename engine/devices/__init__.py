"""What the box (and a Ray cluster) has and what runs on it: the device panel's and `tunedeck devices`'
snapshot. GPUs through NVML when the `nvidia-ml-py` package is there, CPUs and memory from /proc, trials
from the store. No torch here: the cockpit reads it."""
from engine.devices.snapshot import Snapshot, take_snapshot
from engine.devices.text import snapshot_lines

__all__ = ["Snapshot", "snapshot_lines", "take_snapshot"]
