"""The supervisor's half of the store: the commands clients leave for it, and the row it keeps.

Clients (the cockpit, `tunedeck stop`) never signal the supervisor: they add a command row, which
it takes in order within a poll interval and answers in `result`. The supervisor's own row says
which process it is, when it last beat, and the manual parallelism the user chose (kept across
restarts). Commands left by a client while no supervisor ran are expired when the next one starts:
an old "stop everything" must not stop new work.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from engine.states import TrialState
from engine.store.liveness import process_token
from engine.store.recovery import SUPERVISOR
from engine.store.schema import dump_json


@dataclass(frozen=True)
class Command:
    id: int
    kind: str
    args: dict[str, Any] = field(hash=False)
    created_at: float = 0.0
    done_at: float | None = None
    result: str | None = None


@dataclass(frozen=True)
class SupervisorRow:
    pid: int | None
    proc_start: str
    hostname: str
    started_at: float | None
    heartbeat: float | None
    stopped_at: float | None
    parallel: int
    idle_exit: float | None


class SupervisorRecords:
    """Mixed into `Store`: it supplies `_write`, `_read`, `_hostname`."""

    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _hostname: str

    # --- commands ---------------------------------------------------------------------------------

    def add_command(self, kind: str, **args: Any) -> int:
        with self._write() as conn:
            cur = conn.execute("INSERT INTO commands (kind, args_json, created_at) VALUES (?, ?, ?)",
                               (kind, dump_json(args), time.time()))
            assert cur.lastrowid is not None
            return cur.lastrowid

    def pending_commands(self) -> list[Command]:
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM commands WHERE done_at IS NULL ORDER BY id").fetchall()
        return [_command(row) for row in rows]

    def finish_command(self, command_id: int, result: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE commands SET done_at = ?, result = ? WHERE id = ?", (time.time(), result, command_id))

    def command(self, command_id: int) -> Command | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM commands WHERE id = ?", (command_id,)).fetchone()
        return _command(row) if row is not None else None

    def expire_commands(self, reason: str, before: float | None = None) -> int:
        """Answer every command still waiting (no supervisor was there to take it); how many.

        `before`: only those created before then (when the supervisor took its lock: a client sees it
        from that moment, and what it sends from then on is meant for it, even while it starts).
        """
        with self._write() as conn:
            cur = conn.execute("UPDATE commands SET done_at = ?, result = ? WHERE done_at IS NULL "
                               "AND (? IS NULL OR created_at < ?)", (time.time(), reason, before, before))
            return cur.rowcount

    # --- the supervisor's row ---------------------------------------------------------------------

    def register_supervisor(self, idle_exit: float | None) -> SupervisorRow:
        """This process is the store's supervisor now (the caller holds the lock that makes it the only one)."""
        now = time.time()
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO supervisor (id, parallel) VALUES (1, 1)")
            conn.execute("UPDATE supervisor SET pid = ?, proc_start = ?, hostname = ?, started_at = ?, heartbeat = ?, "
                         "stopped_at = NULL, idle_exit = ? WHERE id = 1",
                         (os.getpid(), process_token(), self._hostname, now, now, idle_exit))
        row = self.supervisor_row()
        assert row is not None
        return row

    def supervisor_row(self) -> SupervisorRow | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM supervisor WHERE id = 1").fetchone()
        if row is None:
            return None
        return SupervisorRow(row["pid"], row["proc_start"] or "", row["hostname"] or "", row["started_at"],
                             row["heartbeat"], row["stopped_at"], int(row["parallel"] or 1), row["idle_exit"])

    def beat_supervisor(self, active_sweeps: list[int]) -> None:
        """The supervisor, the sweeps it runs and the trials it claimed that wait their turn are alive
        (what a reader on another host goes by: without it, a trial queued behind a long one would be
        handed out again, and run twice)."""
        now = time.time()
        with self._write() as conn:
            conn.execute("UPDATE supervisor SET heartbeat = ? WHERE id = 1", (now,))
            conn.execute("UPDATE trials SET heartbeat = ? WHERE state = ? AND owner = ? AND pid = ? AND hostname = ?",
                         (now, TrialState.QUEUED.value, SUPERVISOR, os.getpid(), self._hostname))
            if active_sweeps:
                marks = ", ".join("?" * len(active_sweeps))
                conn.execute(f"UPDATE sweeps SET heartbeat = ? WHERE id IN ({marks})", (now, *active_sweeps))

    def set_supervisor_parallel(self, parallel: int) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO supervisor (id, parallel) VALUES (1, 1)")
            conn.execute("UPDATE supervisor SET parallel = ? WHERE id = 1", (max(1, parallel),))

    def supervisor_stopped(self) -> None:
        with self._write() as conn:
            conn.execute("UPDATE supervisor SET stopped_at = ? WHERE id = 1 AND pid = ?", (time.time(), os.getpid()))


def _command(row: sqlite3.Row) -> Command:
    try:
        args = json.loads(row["args_json"])
    except ValueError:
        args = {}
    return Command(row["id"], row["kind"], args if isinstance(args, dict) else {}, row["created_at"],
                   row["done_at"], row["result"])
