"""What the cockpit and the CLI call to have the store's supervisor do something.

Queueing needs no live supervisor: a trial or sweep is a row that no process holds yet, and the
client starts the supervisor (or finds it running) right after writing it. A command for something
already running (stop a trial, pause a sweep, change parallelism) is a row in `commands`, taken by
the supervisor within a poll; `wait` reads its answer back. A trial that runs in another process (a
foreground `tunedeck run`) is not the supervisor's to stop, and the answer says so.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.config.groups import Config
from engine.states import SweepState
from engine.store import Store
from engine.store.commands import Command, SupervisorRow
from engine.store.recovery import SUPERVISOR
from engine.supervisor.files import SupervisorFiles, running_pid
from engine.supervisor.launch import SupervisorError, ensure_supervisor
from engine.sweeps.pinned import check_available, pin
from engine.sweeps.spec import SearchSpec
from engine.sweeps.sweep import SweepError, sweep_name


@dataclass(frozen=True)
class SupervisorStatus:
    pid: int | None  # None: no supervisor runs for this store
    row: SupervisorRow | None

    @property
    def uptime(self) -> float | None:
        if self.pid is None or self.row is None or self.row.started_at is None:
            return None
        return max(0.0, time.time() - self.row.started_at)

    @property
    def parallel(self) -> int:
        return self.row.parallel if self.row is not None else 1


class SupervisorClient:
    """`launch` starts the supervisor when none runs (the detached process by default; a test may run
    one in a thread of its own instead)."""

    def __init__(self, store: Store, launch: Callable[[], object] | None = None, *, executor: str | None = None) -> None:
        """`executor`: the one a supervisor started here trains with (`ray`), and that a running one must have."""
        self.store = store
        self.files = SupervisorFiles(store.path.resolve())
        self._executor = executor
        self._launch = launch or (lambda: ensure_supervisor(store.path, executor=executor))

    # --- is it there ----------------------------------------------------------------------------

    def pid(self) -> int | None:
        pid = running_pid(self.files)
        return None if pid is None else max(pid, 0) or None

    @property
    def running(self) -> bool:
        return running_pid(self.files) is not None

    def ensure(self) -> None:
        self._launch()

    def status(self) -> SupervisorStatus:
        return SupervisorStatus(self.pid() if self.running else None, self.store.supervisor_row())

    # --- queueing -------------------------------------------------------------------------------

    def enqueue(self, config: Config) -> int:
        """Queue a trial for the supervisor (stored at once, so the table shows it); its id."""
        self._ray_first()
        trial_id = self.store.create_trial(config, for_supervisor=True)
        self.ensure()
        return trial_id

    def _ray_first(self, wanted: str | None = None) -> None:
        """Work that must train on Ray (this client's executor, or a sweep's `executor = "ray"`): the store's
        supervisor is started on Ray, or found running on it, before the work is stored, so that a missing
        Ray, a wrong RAY_ADDRESS or a supervisor that trains with processes refuses it with nothing queued."""
        if "ray" in (wanted, self._executor):
            from engine.execution.ray_connect import check_reachable

            check_reachable()
            ensure_supervisor(self.store.path, executor="ray")

    def start_sweep(self, base: Config, spec: SearchSpec) -> int:
        """Queue a sweep (its seed and Optuna settings fixed now, so that it samples the same points wherever
        it runs); its id. ConfigError for a strategy or pruner whose package is absent."""
        check_available(spec)
        spec = pin(spec, base.optim.max_epochs)
        self._ray_first(spec.executor)
        sweep_id = self.store.create_sweep(sweep_name(base, spec), spec.to_dict(), base.to_dict(), spec.planned,
                                           for_supervisor=True)
        self.ensure()
        return sweep_id

    def resume_sweep(self, sweep_id: int, spec: dict | None = None) -> None:
        """Queue a stopped or interrupted sweep to go on (SweepError says why it cannot)."""
        record = self.store.sweep(sweep_id)
        self._ray_first(record.spec.get("executor"))
        if not self.store.request_resume(sweep_id, spec):
            record = self.store.sweep(sweep_id)
            if record.state == SweepState.COMPLETED:
                raise SweepError(f"sweep {sweep_id} ({record.name}) has already completed: {record.reason}")
            where = f"in process {record.pid}" if record.pid is not None else "queued for the supervisor"
            raise SweepError(f"sweep {sweep_id} ({record.name}) is already {record.state.value} ({where}); "
                             "it was not resumed twice")
        self.ensure()

    def resume_trial(self, trial_id: int) -> int:
        """Queue an interrupted or cancelled trial to go on from its newest `last` checkpoint, as the same
        trial; the epoch it goes on from (the trainer falls back to an older checkpoint if that one is
        damaged). SupervisorError says why it cannot."""
        record = self.store.trial(trial_id)
        if not record.state.is_lost:
            raise SupervisorError(f"trial {trial_id} is {record.state.value}: only an interrupted or cancelled "
                                  "trial resumes")
        lasts = self.store.checkpoints(trial_id, "last")
        if not lasts:
            raise SupervisorError(f"trial {trial_id} has no checkpoint to resume from (run.checkpoint was none "
                                  "or best, or it stopped before one was written); clone it to run it again")
        if not self.store.requeue(trial_id, for_supervisor=True):
            raise SupervisorError(f"trial {trial_id} was just taken by another process")
        self.ensure()
        return lasts[0].epoch

    # --- commands -------------------------------------------------------------------------------

    def send(self, kind: str, **args: object) -> int:
        """Leave a command for the running supervisor; its id (SupervisorError when none runs)."""
        if not self.running:
            raise SupervisorError(f"no supervisor is running for {self.store.path}: nothing runs under it")
        return self.store.add_command(kind, **args)

    def wait(self, command_id: int, timeout: float = 5.0) -> Command | None:
        """The command once answered; None if the supervisor did not answer within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            command = self.store.command(command_id)
            if command is not None and command.done_at is not None:
                return command
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def cancel(self, trial_id: int, reason: str = "cancelled by the user") -> str:
        """Stop a queued or running trial: at once when no process holds it yet, else through the supervisor.
        Returns what was done; SupervisorError when the trial is not the supervisor's to stop."""
        if self.store.cancel_unclaimed(trial_id, reason):
            return f"trial {trial_id} cancelled before it started"
        record = self.store.trial(trial_id)
        if record.state.is_finished:
            raise SupervisorError(f"trial {trial_id} has already ended ({record.state.value})")
        if record.owner != SUPERVISOR:
            raise SupervisorError(f"trial {trial_id} runs in process {record.pid} on {record.hostname or 'this host'} "
                                  "(a foreground tunedeck run or sweep): stop it there with Ctrl+C")
        self.send("cancel", trial_id=trial_id, reason=reason)
        return f"stopping trial {trial_id}"

    def set_parallel(self, parallel: int) -> None:
        """How many queued trials train at once (kept by the store across supervisor restarts)."""
        self.store.set_supervisor_parallel(parallel)
        if self.running:
            self.send("parallel", parallel=parallel)

    def enqueue_into_sweep(self, sweep_id: int, config: dict) -> int:
        """Ask the supervisor to run `config` (its searched knobs) next in a running sweep; the command's id
        (its result says what was enqueued, or starts with "refused:")."""
        return self.send("enqueue_sweep", sweep_id=sweep_id, config=config)

    def pause_sweep(self, sweep_id: int) -> int:
        return self.send("pause_sweep", sweep_id=sweep_id)

    def unpause_sweep(self, sweep_id: int) -> int:
        return self.send("unpause_sweep", sweep_id=sweep_id)

    def stop_sweep(self, sweep_id: int, reason: str = "stopped by the user") -> int:
        return self.send("stop_sweep", sweep_id=sweep_id, reason=reason)

    def stop_all(self, reason: str = "stopped by the user") -> int | None:
        """Stop every trial and sweep of the supervisor, and cancel what is queued for it."""
        for record in self.store.unclaimed_trials():
            self.store.cancel_unclaimed(record.id, reason)
        return self.send("stop_all", reason=reason) if self.running else None

    def shutdown(self, reason: str = "stopped: the supervisor was shut down") -> int | None:
        return self.send("shutdown", reason=reason) if self.running else None
