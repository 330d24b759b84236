"""The sweeps half of the trial store: a sweep's name, spec and state, and its progress.

A sweep's trials are ordinary rows of `trials` tagged with `sweep_id`; this table holds what the
sweep itself is (its search spec and the base config it varies) and how it ended. Progress is
counted from the trials, so it can never disagree with them.
"""
from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from engine.errors import StoreError
from engine.states import SweepState, TrialState
from engine.store.liveness import process_token
from engine.store.schema import _load_json, dump_json


@dataclass(frozen=True)
class SweepRecord:
    id: int
    name: str
    state: SweepState
    reason: str | None
    spec: dict[str, Any] = field(hash=False)
    base: dict[str, Any] = field(hash=False)
    planned: int = 0
    pid: int | None = None
    created_at: float = 0.0
    finished_at: float | None = None
    counts: dict[str, int] = field(default_factory=dict, hash=False)  # trial state value -> how many

    @property
    def done(self) -> int:
        """Trials that ended and count towards the plan: cancelled and interrupted ones do not (a resumed
        sweep runs them again)."""
        return self.count_if(lambda state: state.counts_toward_plan)

    def count(self, *states: TrialState) -> int:
        return sum(self.counts.get(s.value, 0) for s in states)

    def count_if(self, test: Callable[[TrialState], bool]) -> int:
        """Trials in the states a predicate of TrialState picks (`lambda s: s.is_failure`)."""
        return sum(n for state, n in self.counts.items() if test(TrialState(state)))


class SweepRecords:
    """Mixed into `Store`: it supplies `_write`, `_read`, `_where`, `_hostname`."""

    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _where: str
    _hostname: str

    def create_sweep(self, name: str, spec: dict[str, Any], base: dict[str, Any], planned: int, *,
                     for_supervisor: bool = False) -> int:
        """Store a sweep, supervised by this process, or (`for_supervisor`) waiting for the store's
        supervisor to claim it: no process holds it until then."""
        held = (os.getpid(), process_token(), self._hostname) if not for_supervisor else (None, "", "")
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO sweeps (name, state, spec_json, base_json, planned, created_at, heartbeat, pid, "
                "proc_start, hostname) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, SweepState.RUNNING.value, dump_json(spec), dump_json(base), planned, time.time(), time.time(),
                 *held))
            assert cur.lastrowid is not None  # an INSERT always sets it
            return cur.lastrowid

    def reclaim_sweep(self, sweep_id: int) -> bool:
        """Take a sweep to run it in this process: a stopped or interrupted one, or one queued for the
        supervisor. One conditional update, so that of two processes resuming one sweep at once exactly
        one wins; False for the other (or when the sweep is running, completed or unknown)."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE sweeps SET state = ?, reason = NULL, finished_at = NULL, heartbeat = ?, pid = ?, "
                "proc_start = ?, hostname = ? WHERE id = ? AND (state IN (?, ?) OR (state = ? AND pid IS NULL))",
                (SweepState.RUNNING.value, time.time(), os.getpid(), process_token(), self._hostname, sweep_id,
                 SweepState.STOPPED.value, SweepState.INTERRUPTED.value, SweepState.RUNNING.value))
            return cur.rowcount == 1

    def request_resume(self, sweep_id: int, spec: dict[str, Any] | None = None) -> bool:
        """Queue a stopped or interrupted sweep for the store's supervisor (with a changed spec, say a
        new parallelism); the same conditional update as `reclaim_sweep`. False: it cannot be resumed."""
        with self._write() as conn:
            sets, params = "", []
            if spec is not None:
                sets, params = ", spec_json = ?", [dump_json(spec)]
            cur = conn.execute(
                f"UPDATE sweeps SET state = ?, reason = NULL, finished_at = NULL, pid = NULL, proc_start = '', "
                f"hostname = ''{sets} WHERE id = ? AND state IN (?, ?)",
                (SweepState.RUNNING.value, *params, sweep_id, SweepState.STOPPED.value, SweepState.INTERRUPTED.value))
            return cur.rowcount == 1

    def unclaimed_sweeps(self) -> list[int]:
        """Sweeps queued for the supervisor (new or resumed) that no process holds yet."""
        with self._read() as conn:
            rows = conn.execute("SELECT id FROM sweeps WHERE state = ? AND pid IS NULL ORDER BY id",
                                (SweepState.RUNNING.value,)).fetchall()
        return [int(row[0]) for row in rows]

    def beat_sweep(self, sweep_id: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE sweeps SET heartbeat = ? WHERE id = ?", (time.time(), sweep_id))

    def set_sweep_state(self, sweep_id: int, state: SweepState, reason: str | None = None) -> None:
        """Record a sweep's state; an ending state also records when it ended."""
        state = SweepState(state)
        ended = not state.is_active
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE sweeps SET state = ?, reason = ?, finished_at = ? WHERE id = ?",
                (state.value, reason, time.time() if ended else None, sweep_id))
            if cur.rowcount == 0:
                raise StoreError(f"no sweep with id {sweep_id} in {self._where}")

    def sweep(self, sweep_id: int) -> SweepRecord:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
            if row is None:
                raise StoreError(f"no sweep with id {sweep_id} in {self._where}")
            counts = dict(conn.execute(
                "SELECT state, COUNT(*) FROM trials WHERE sweep_id = ? GROUP BY state", (sweep_id,)).fetchall())
        return _record(row, counts)

    def sweeps(self) -> list[SweepRecord]:
        """Every sweep, oldest first."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM sweeps ORDER BY id").fetchall()
            counts: dict[int, dict[str, int]] = {}
            for sweep_id, state, n in conn.execute(
                    "SELECT sweep_id, state, COUNT(*) FROM trials WHERE sweep_id IS NOT NULL GROUP BY sweep_id, state"):
                counts.setdefault(sweep_id, {})[state] = n
        return [_record(row, counts.get(row["id"], {})) for row in rows]


def _record(row: sqlite3.Row, counts: dict[str, int]) -> SweepRecord:
    return SweepRecord(id=row["id"], name=row["name"], state=SweepState(row["state"]), reason=row["reason"],
                       spec=_load_json(row["spec_json"]), base=_load_json(row["base_json"]),
                       planned=row["planned"], pid=row["pid"], created_at=row["created_at"],
                       finished_at=row["finished_at"],
                       counts=counts)
