"""`--executor ray` in the CLI: Ray checked before anything is recorded, and the executor connected.

Shared by `tunedeck run`, `tunedeck sweep` and the cockpit (engine.execution.ray_executor does the work).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def check_ray() -> None:
    """Ray is importable and RAY_ADDRESS (if set) answers; else a one-line RayUnavailable (exit 2)."""
    from engine.execution.ray_connect import check_reachable

    check_reachable()


def ray_executor(store_path: Path, gpus_per_trial: float) -> Any:
    """The Ray executor, connected (RAY_ADDRESS, else a local runtime); what Ray's native code writes on
    stderr goes to STORE.ray.log beside the store, so that it does not bury this command's lines."""
    from engine.execution.ray_connect import quiet_native_stderr
    from engine.execution.ray_executor import RayExecutor

    quiet_native_stderr(store_path.with_suffix(".ray.log"))
    executor = RayExecutor(gpus_per_trial=gpus_per_trial)
    executor.connect()
    return executor
