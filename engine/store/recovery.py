"""Opening a store after a crash: rows left running by a process that is gone become `interrupted`.

A row names the process that holds it (pid, the kernel's start time, hostname) and carries a
heartbeat that its process renews every few seconds. On this host the process itself is asked
(a pid can be reused: the start time tells the two apart); a row written on another host, or in a
container whose hostname changed, is judged by its heartbeat's age alone, since no pid there means
anything here. A queued trial that the store's supervisor had claimed goes back to the queue for
the next supervisor instead: it never started, so nothing about it was lost (unless it is a sweep's:
that one ends interrupted, and resuming the sweep runs its point again).
"""
from __future__ import annotations

import sqlite3
import time

from engine.states import SweepState, TrialState
from engine.store.liveness import STALE_SECONDS, process_alive

SUPERVISOR = "supervisor"  # the `owner` of trials queued for, or run by, the store's supervisor


def recover(conn: sqlite3.Connection, hostname: str, now: float | None = None) -> None:
    """Mark the dead processes' trials and sweeps; called inside the opening write transaction."""
    now = time.time() if now is None else now
    _recover_trials(conn, hostname, now)
    _recover_sweeps(conn, hostname, now)


def _gone(row: sqlite3.Row, hostname: str, now: float) -> str | None:
    """Why the row's process is taken for dead (the start of a sentence), or None while it lives."""
    pid, where = row["pid"], row["hostname"] or ""
    if where == hostname:
        return None if process_alive(pid, row["proc_start"] or "") else f"process {pid} on {hostname}"
    last = max((t for t in (row["heartbeat"], row["started_at"], row["created_at"]) if t is not None), default=None)
    if last is not None and now - last <= STALE_SECONDS:
        return None
    age = f"{now - last:.0f} s" if last is not None else "ever"
    return f"process {pid} on {where or 'an unknown host'} (no heartbeat for {age})"


def _recover_trials(conn: sqlite3.Connection, hostname: str, now: float) -> None:
    rows = conn.execute(
        "SELECT id, state, pid, proc_start, hostname, heartbeat, started_at, created_at, epochs_run, owner, sweep_id "
        "FROM trials WHERE state IN (?, ?) AND pid IS NOT NULL",
        (TrialState.RUNNING.value, TrialState.QUEUED.value)).fetchall()
    for row in rows:
        who = _gone(row, hostname, now)
        if who is None:
            continue
        if row["state"] == TrialState.QUEUED.value and row["owner"] == SUPERVISOR and row["sweep_id"] is None:
            # queued by hand for the supervisor: the next one takes it. (A sweep's trial is the sweep's:
            # it ends interrupted below, and a resume of the sweep runs that point again.)
            conn.execute("UPDATE trials SET pid = NULL, proc_start = '', hostname = '' WHERE id = ?", (row["id"],))
            continue
        if row["state"] == TrialState.QUEUED.value:
            reason = f"{who} ended before the trial started"
        else:
            epoch = f"last committed epoch {row['epochs_run']}" if row["epochs_run"] else "no epoch committed"
            reason = f"{who} ended while the trial ran ({epoch})"
        conn.execute("UPDATE trials SET state = ?, reason = ?, finished_at = ? WHERE id = ?",
                     (TrialState.INTERRUPTED.value, reason, now, row["id"]))


def _recover_sweeps(conn: sqlite3.Connection, hostname: str, now: float) -> None:
    rows = conn.execute(
        "SELECT id, pid, proc_start, hostname, heartbeat, created_at, NULL AS started_at FROM sweeps "
        "WHERE state IN (?, ?) AND pid IS NOT NULL", (SweepState.RUNNING.value, SweepState.PAUSED.value)).fetchall()
    for row in rows:
        who = _gone(row, hostname, now)
        if who is not None:
            conn.execute("UPDATE sweeps SET state = ?, reason = ?, finished_at = ? WHERE id = ?",
                         (SweepState.INTERRUPTED.value, f"{who} ended while the sweep ran", now, row["id"]))
