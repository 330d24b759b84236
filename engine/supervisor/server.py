"""The supervisor: the one process per store that runs every queued trial and sweep.

It owns the trial pool (and through it the warm trainer processes) and the sweeps' Optuna studies.
Clients never talk to it directly: they queue trials and sweeps as rows that no process holds yet,
which it claims with one conditional update each, and leave command rows that it takes in order.
Between polls it sleeps; a poll whose `PRAGMA data_version` shows no commit by anyone else reads
nothing. With nothing queued, running or asked for `idle_exit` seconds, it ends by itself.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine.config.groups import Config
from engine.errors import TunedeckError
from engine.events import TrialFinished
from engine.execution.executors import Executor
from engine.execution.pool import MANUAL, TrialPool
from engine.states import SweepState, TrialState
from engine.store import Store
from engine.store.commands import Command
from engine.store.liveness import HEARTBEAT_SECONDS
from engine.store.recovery import SUPERVISOR
from engine.sweeps.sweep import Sweep

DEFAULT_IDLE_EXIT = 900.0
POLL_SECONDS = 0.2
EXPIRED = "expired: no supervisor was running when it was sent"


class Supervisor:
    def __init__(self, store_path: str | Path, executor: Executor, *, idle_exit: float | None = DEFAULT_IDLE_EXIT,
                 poll: float = POLL_SECONDS, threads: int | None = None,
                 log: Callable[[str], None] | None = None, since: float | None = None) -> None:
        """`since`: when this process became the supervisor (took the lock); commands older than that
        were left for none, and are expired (default: now)."""
        self.since = time.time() if since is None else since
        self.store = Store(store_path, owner=SUPERVISOR)
        row = self.store.supervisor_row()
        self.pool = TrialPool(self.store, executor, parallel=row.parallel if row else 1, threads=threads)
        self.idle_exit = idle_exit
        self.poll = poll
        self.sweeps: dict[int, Sweep] = {}
        self._sweep_threads: dict[int, threading.Thread] = {}
        self._log = log or (lambda line: None)
        self._stop = threading.Event()
        self._ending: tuple[str, TrialState] | None = None  # why it ends, and how its trials are recorded
        self._seen_version: int | None = None
        self._last_busy = time.monotonic()
        self._last_beat = 0.0
        self.ended_idle = False  # serve() returned because there was nothing to do

    # --- the loop -------------------------------------------------------------------------------

    def serve(self) -> str:
        """Run until shut down, stopped or idle for `idle_exit` seconds; why it ended."""
        self.store.register_supervisor(self.idle_exit)
        expired = self.store.expire_commands(EXPIRED, before=self.since)
        self._log(f"supervising {self.store.path}" + (f" ({expired} stale command(s) expired)" if expired else ""))
        why = "stopped"
        try:
            while not self._stop.is_set():
                self.step()
                idle = self._idle_for()
                if self.idle_exit and idle is not None and idle >= self.idle_exit:
                    why = f"idle for {self.idle_exit:.0f} s with nothing queued or running"
                    self.ended_idle = True
                    break
                self._stop.wait(self.poll)
            else:
                why = self._ending[0] if self._ending else "stopped"
        finally:
            self._close()
        self._log(f"supervisor ends: {why}")
        return why

    def step(self) -> None:
        """One poll: take commands, claim what was queued, forget sweeps that ended, renew the heartbeat."""
        version = self.store.data_version()
        if version != self._seen_version:
            self._seen_version = version
            for command in self.store.pending_commands():
                self.store.finish_command(command.id, self._handle(command))
            if self._ending is None:
                self._claim_trials()
                self._claim_sweeps()
        self._reap_sweeps()
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = now
            self.store.beat_supervisor(list(self.sweeps))

    def stop(self, reason: str = "stopped", state: TrialState = TrialState.CANCELLED) -> None:
        """End the loop; running trials are recorded in `state` with `reason` (from any thread, or a signal)."""
        if self._ending is None:
            self._ending = (reason, state)
        self._stop.set()

    def _idle_for(self) -> float | None:
        """Seconds since the last trial or sweep ended (None while something waits or runs)."""
        if self.pool.busy or self.sweeps:
            self._last_busy = time.monotonic()
            return None
        return time.monotonic() - self._last_busy

    def _close(self) -> None:
        reason, state = self._ending or ("stopped: its supervisor ended", TrialState.CANCELLED)
        for sweep in list(self.sweeps.values()):
            sweep.stop(reason)
        self.pool.shutdown(reason, wait=10.0, state=state)
        for thread in self._sweep_threads.values():
            thread.join(5.0)
        self.store.supervisor_stopped()
        self.store.close()

    # --- claiming -------------------------------------------------------------------------------

    def _claim_trials(self) -> None:
        for record in self.store.unclaimed_trials():
            if not self.store.claim_trial(record.id):
                continue
            try:
                config = Config.from_dict(record.config)
            except TunedeckError as exc:
                self.store.mark_finished(record.id, TrialState.FAILED, f"its config cannot be read: {exc}")
                continue
            self.pool.submit(config, trial_id=record.id, on_done=self._trial_ended)
            self._log(f"trial {record.id} queued ({record.name})")
            self._last_beat = 0.0  # beat at the end of this step: a claimed trial is alive from the start

    def _claim_sweeps(self) -> None:
        for sweep_id in self.store.unclaimed_sweeps():
            try:
                sweep = Sweep.resumed(self.store, sweep_id, self.pool, on_trial=self._sweep_trial_ended,
                                      on_note=self._sweep_note(sweep_id))
            except TunedeckError as exc:
                if self.store.sweep(sweep_id).pid is None:  # not taken by another process: it cannot run
                    self.store.set_sweep_state(sweep_id, SweepState.STOPPED, f"could not start: {exc}")
                continue
            self.sweeps[sweep.id] = sweep
            self._sweep_threads[sweep.id] = sweep.start()
            self._log(f"sweep {sweep.id} started ({sweep.name}: {sweep.spec.planned} trials, "
                      f"{sweep.spec.parallel} at a time)")

    def _sweep_note(self, sweep_id: int) -> Callable[[str], None]:
        """A sweep's log lines (a repeat skipped, a config enqueued) into the supervisor's log."""
        return lambda line: self._log(f"sweep {sweep_id}: {line}")

    def _reap_sweeps(self) -> None:
        for sweep_id, thread in list(self._sweep_threads.items()):
            if not thread.is_alive():
                del self._sweep_threads[sweep_id]
                sweep = self.sweeps.pop(sweep_id)
                self._log(f"sweep {sweep_id} {sweep.state}")
                self._last_busy = time.monotonic()

    def _trial_ended(self, trial_id: int, finished: TrialFinished, broke: bool) -> None:
        self._log(f"trial {trial_id} {finished.state}: {finished.reason}")

    def _sweep_trial_ended(self, trial_id: int, finished: TrialFinished, updates: dict) -> None:
        if trial_id >= 0:
            self._log(f"trial {trial_id} {finished.state}: {finished.reason}")

    # --- commands -------------------------------------------------------------------------------

    def _handle(self, command: Command) -> str:
        """Carry a command out; the answer the client reads back."""
        args = command.args
        try:
            if command.kind == "cancel":
                return self._cancel(int(args["trial_id"]), args.get("reason") or "cancelled by the user")
            if command.kind == "parallel":
                parallel = max(1, int(args["parallel"]))
                self.pool.set_parallel(parallel, MANUAL)
                self.store.set_supervisor_parallel(parallel)
                return f"{parallel} trial(s) at once"
            if command.kind == "enqueue_sweep":
                return self._enqueue(int(args["sweep_id"]), dict(args["config"]))
            if command.kind in ("pause_sweep", "unpause_sweep", "stop_sweep"):
                return self._sweep_command(command.kind, int(args["sweep_id"]), args.get("reason"))
            if command.kind == "stop_all":
                reason = args.get("reason") or "stopped by the user"
                for sweep in list(self.sweeps.values()):
                    sweep.stop(reason)
                self.pool.cancel_all(reason)
                return "stopping every trial and sweep"
            if command.kind == "shutdown":
                self.stop(args.get("reason") or "stopped: the supervisor was shut down")
                return "shutting down"
        except (KeyError, TypeError, ValueError) as exc:
            return f"refused: bad arguments for {command.kind}: {exc}"
        return f"refused: unknown command {command.kind!r}"

    def _cancel(self, trial_id: int, reason: str) -> str:
        for sweep in self.sweeps.values():
            if sweep.cancel_trial(trial_id):
                return f"stopping trial {trial_id}; sweep {sweep.id} goes on"
        if self.pool.cancel(trial_id, reason):
            return f"stopping trial {trial_id}"
        if self.store.cancel_unclaimed(trial_id, reason):
            return f"trial {trial_id} cancelled before it started"
        return f"trial {trial_id} is not running here"

    def _enqueue(self, sweep_id: int, config: dict) -> str:
        """A hand-picked config into a running sweep: it runs next (or the refusal, in one line)."""
        sweep = self.sweeps.get(sweep_id)
        if sweep is None or not sweep.state.is_active:
            return f"refused: sweep {sweep_id} is not running here"
        try:
            return sweep.enqueue(config)
        except TunedeckError as exc:
            return f"refused: {exc}"

    def _sweep_command(self, kind: str, sweep_id: int, reason: str | None) -> str:
        sweep = self.sweeps.get(sweep_id)
        if sweep is None or not sweep.state.is_active:
            return f"sweep {sweep_id} is not running here"
        if kind == "pause_sweep":
            sweep.pause()
        elif kind == "unpause_sweep":
            sweep.resume()
        else:
            sweep.stop(reason or "stopped by the user")
            return f"stopping sweep {sweep_id}"
        return f"sweep {sweep_id} {sweep.state}"
