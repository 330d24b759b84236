"""The cockpit's sweep: started from the Sweep dialog, run beside the manual trials, shown live.

The sweep trains through the same executor as the trials started by hand (so a manual trial can
run next to it) and delivers its events into the same queue the cockpit drains, so its trials draw
in the plot and the table like any other. This class keeps the one active sweep and turns its
progress into a status line; the sweep's threads never touch the UI.
"""
from __future__ import annotations

import threading
from typing import Callable

from engine.config.groups import Config
from engine.events import TrialFinished
from engine.execution.executors import Executor, Sink
from engine.tables.formatting import fmt_duration, fmt_value
from engine.execution.placement import threads_per_trial
from engine.sweeps.spec import SearchSpec
from engine.store import Store
from engine.store.sweeps import PAUSED, RUNNING
from engine.sweeps.sweep import Sweep


class SweepControl:
    def __init__(self, store: Store, executor: Executor, deliver: Sink,
                 on_trial: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.executor = executor
        self.deliver = deliver
        self.on_trial = on_trial  # called from a sweep thread after each trial; must hand over to the UI
        self.sweep: Sweep | None = None
        self.last_id: int | None = None  # the sweep started here most recently, also once it ended
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.sweep is not None and self.sweep.state in (RUNNING, PAUSED)

    @property
    def busy(self) -> bool:
        """The sweep's thread has not ended yet (it may still be recording how the sweep ended)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, base: Config, spec: SearchSpec, manual_parallel: int = 0) -> Sweep:
        """Store the sweep and start it in the background; refused while another one runs."""
        if self.active:
            raise RuntimeError("a sweep is already running; stop it first")
        return self._launch(Sweep(self.store, base, spec, self.executor, sink=self.deliver,
                                  on_trial=self._finished, threads=threads_per_trial(spec.parallel + manual_parallel)))

    def resume(self, sweep_id: int, manual_parallel: int = 0) -> Sweep:
        """Go on with a stopped or interrupted sweep (SweepError says why not)."""
        if self.active:
            raise RuntimeError("a sweep is already running; stop it first")
        threads = threads_per_trial(int(self.store.sweep(sweep_id).spec.get("parallel", 1)) + manual_parallel)
        return self._launch(Sweep.resumed(self.store, sweep_id, self.executor, sink=self.deliver,
                                          on_trial=self._finished, threads=threads))

    def _launch(self, sweep: Sweep) -> Sweep:
        self.sweep = sweep
        self.last_id = sweep.id
        self._thread = sweep.start()
        return sweep

    def _finished(self, trial_id: int, finished: TrialFinished, updates: dict) -> None:
        if self.on_trial is not None:
            self.on_trial(trial_id)

    def toggle_pause(self) -> str | None:
        """Pause or resume; the new state, or None with no sweep running."""
        if not self.active:
            return None
        assert self.sweep is not None
        if self.sweep.paused:
            self.sweep.resume()
        else:
            self.sweep.pause()
        return self.sweep.state

    def stop(self, reason: str = "stopped by the user") -> bool:
        if not self.active:
            return False
        assert self.sweep is not None
        self.sweep.stop(reason)
        return True

    @property
    def running_ids(self) -> list[int]:
        return self.sweep.running_ids if self.sweep is not None else []

    def status_line(self) -> str:
        """`sweep 3: 12/32 done · 2 running · 3 pruned · 1 failed · best 0.0123 #45 · ETA 1m20s`, short
        enough for the monitor pane of an 80-column terminal."""
        sweep = self.sweep
        if sweep is None:
            return ""
        p = sweep.progress()
        parts = [f"[b]sweep {sweep.id}[/b]: {p.done}/{p.planned} done"]
        if p.running:
            parts.append(f"{p.running} running")
        if p.pruned:
            parts.append(f"{p.pruned} pruned")
        if p.failed:
            parts.append(f"[red]{p.failed} failed[/]")
        if p.cancelled:
            parts.append(f"{p.cancelled} cancelled")
        if p.best_value is not None:
            parts.append(f"best {fmt_value(p.best_value)} #{p.best_trial}")
        if p.state == PAUSED:
            parts.append("[yellow]paused[/] (p resumes)")
        elif p.state == RUNNING:
            if p.eta_seconds is not None:
                parts.append(f"ETA {fmt_duration(p.eta_seconds)}")
        else:
            parts.append(p.state)
        return " · ".join(parts)
