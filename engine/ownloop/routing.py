"""One executor for every trial: script trials (`task.name = "script"`) to a ScriptExecutor, the others to the
executor it wraps (the warm trainer processes, or the calling thread)."""
from __future__ import annotations

import threading
from pathlib import Path

from engine.config.groups import SCRIPT_TASK, Config
from engine.events import TrialFinished
from engine.execution.executors import Executor, Judge, Sink
from engine.ownloop.executor import ScriptExecutor


class ScriptRouter:
    """Script trials to `scripts`, every other trial to `other` (give `scripts` the pool's store)."""

    def __init__(self, other: Executor, scripts: ScriptExecutor) -> None:
        self.other = other
        self.scripts = scripts

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event,
            sink: Sink, *, judge: Judge | None = None, threads: int | None = None) -> TrialFinished:
        executor: Executor = self.scripts if config.task.name == SCRIPT_TASK else self.other
        return executor.run(store_path, trial_id, config, cancel, sink, judge=judge, threads=threads)

    def prewarm(self, count: int = 1, *, wait: float = 0.0) -> None:
        """Start the wrapped executor's trainers now, where it has any (a sweep asks before its sampler
        loads, so that the trainers' start-up overlaps it)."""
        prewarm = getattr(self.other, "prewarm", None)
        if prewarm is not None:
            prewarm(count, wait=wait)

    def shutdown(self) -> None:
        try:
            self.scripts.shutdown()
        finally:
            self.other.shutdown()
