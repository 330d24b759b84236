"""`tunedeck status`: the store's supervisor, the trials running and queued, the sweeps under way.

Everything is read from the store (and the supervisor's lock file), so it shows the trials of every
process that uses the store: the supervisor's, a foreground `tunedeck run` or sweep, the cockpit.
"""
from __future__ import annotations

import argparse
import socket
import time

from engine.states import TrialState
from engine.store import Store, SweepRecord, TrialRecord
from engine.store.recovery import SUPERVISOR
from engine.supervisor.client import SupervisorClient, SupervisorStatus
from engine.sweeps.results import config_value
from engine.tables.formatting import fmt_duration, render_table, safe_text
from tunedeck.cli.storeopen import open_store


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        client = SupervisorClient(store)
        status = client.status()
        unfinished = store.trials(states=(TrialState.QUEUED, TrialState.RUNNING))
        sweeps = [s for s in store.sweeps() if s.state.is_active]
        print(supervisor_line(store, client, status))
    now = time.time()
    running = [t for t in unfinished if t.state == TrialState.RUNNING]
    queued = [t for t in unfinished if t.state == TrialState.QUEUED]
    _section("running trials", ["id", "name", "sweep", "epoch", "time", "process"],
             [[t.id, t.name, _sweep(t), _epoch(t), _age(now, t.started_at), _process(t, status)] for t in running])
    _section("queued trials", ["id", "name", "sweep", "waiting", "queued for"],
             [[t.id, t.name, _sweep(t), _age(now, t.created_at), _queued_for(t)] for t in queued])
    _section("active sweeps", ["id", "name", "state", "done", "running", "run by"],
             [[s.id, s.name, s.state.value, f"{s.done}/{s.planned}", s.count(TrialState.RUNNING),
               _sweep_runner(s, status)] for s in sweeps])
    return 0


def supervisor_line(store: Store, client: SupervisorClient, status: SupervisorStatus) -> str:
    if status.pid is None:
        return f"no supervisor is running for {safe_text(store.path)}"
    row = status.row
    if row is None or row.pid != status.pid or status.uptime is None:  # it has not registered yet
        return f"supervisor: pid {status.pid}, starting; log {safe_text(client.files.log)}"
    ends = f", ends after {fmt_duration(row.idle_exit)} idle" if row.idle_exit else ""
    return (f"supervisor: pid {status.pid}, up {fmt_duration(status.uptime)}, trains {status.parallel} queued "
            f"trial{'s' if status.parallel > 1 else ''} at a time (sweeps: their own parallel){ends}; "
            f"log {safe_text(client.files.log)}")


def _section(title: str, headers: list[str], rows: list[list[object]]) -> None:
    if not rows:
        print(f"no {title}")
        return
    print(f"\n{title}:")
    print(render_table(headers, rows))


def _sweep(t: TrialRecord) -> object:
    return t.sweep_id if t.sweep_id is not None else "-"


def _epoch(t: TrialRecord) -> str:
    most = config_value(t.config, "optim.max_epochs")
    return f"{t.epochs_run}/{most if most is not None else '?'}"


def _age(now: float, since: float | None) -> str:
    return fmt_duration(max(0.0, now - since)) if since is not None else "-"


def _where(pid: int | None, hostname: str) -> str:
    here = not hostname or hostname == socket.gethostname()
    return f"{pid if pid is not None else '?'}" + ("" if here else f" on {hostname}")


def _process(t: TrialRecord, status: SupervisorStatus) -> str:
    """The trainer's pid, and whose it is: the supervisor's (a child of it) or a foreground run's."""
    if t.owner != SUPERVISOR:
        return f"{_where(t.pid, t.hostname)} (foreground)"
    if status.pid is None:
        return f"{_where(t.pid, t.hostname)} (supervisor, not running)"
    return f"{_where(t.pid, t.hostname)} (supervisor {status.pid})"


def _queued_for(t: TrialRecord) -> str:
    if t.owner == SUPERVISOR:
        return "the supervisor" if t.pid is None else f"the supervisor (taken by {_where(t.pid, t.hostname)})"
    return f"process {_where(t.pid, t.hostname)} (foreground)"


def _sweep_runner(s: SweepRecord, status: SupervisorStatus) -> str:
    if s.pid is None:
        return "queued for the supervisor"
    if status.pid is not None and s.pid == status.pid:
        return f"supervisor {s.pid}"
    return f"process {s.pid} (foreground)"
