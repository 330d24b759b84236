"""The script-trial half of the store: what a user's own training loop (`tunedeck.init`) writes.

A script logs metrics of any name, many times a second; its `Run` buffers them and hands them
here in batches, each batch one write transaction with the trial's progress (epochs, steps, the
best epoch so far) and its heartbeat. Whoever stops a script trial leaves a request in the row
(`request_stop`); the script reads it (`stop_request`) and ends itself with that state and reason.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from engine.errors import StoreError
from engine.metric_names import MAX_VAL_ACC, VAL_ACC, VAL_ACC_AT_BEST
from engine.states import TrialState
from engine.store.liveness import process_token
from engine.store.schema import dump_json, keep_max, sql_column

MetricRow = tuple[int, int, str, float]  # epoch, step, metric, value
_CHUNK = 200  # rows per INSERT statement: 800 parameters, under the 999 that an older SQLite allows


@dataclass(frozen=True)
class ScriptProgress:
    """Where a script trial stands, as its row shows it between epochs."""

    epochs_run: int = 0
    steps: int = 0
    best_epoch: int | None = None
    best_val_loss: float | None = None
    val_acc_at_best: float | None = None


class ScriptRunRecords:
    """Mixed into `Store`: it supplies `_write`, `_read`, `_where` and `_hostname`."""

    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _where: str
    _hostname: str

    def take_trial(self, trial_id: int, env: dict[str, Any], run_info: dict[str, Any]) -> None:
        """This process runs the trial now: state running, its pid and start token, the environment.

        Only a queued trial (or one its launcher already marked running) can be taken; a stop
        request left from an earlier run of a queued trial is cleared. StoreError says why not.
        """
        queued, running = TrialState.QUEUED.value, TrialState.RUNNING.value
        with self._write() as conn:
            row = conn.execute("SELECT state, run_info_json FROM trials WHERE id = ?", (trial_id,)).fetchone()
            if row is None:
                raise StoreError(f"no trial with id {trial_id} in {self._where}")
            if row["state"] not in (queued, running):
                raise StoreError(f"trial {trial_id} in {self._where} is {row['state']}: it cannot run again")
            info = {**json.loads(row["run_info_json"] or "{}"), **run_info}
            now = time.time()
            conn.execute(
                "UPDATE trials SET state = ?, started_at = COALESCE(started_at, ?), heartbeat = ?, pid = ?, "
                "proc_start = ?, hostname = ?, env_json = ?, run_info_json = ?, reason = NULL, error = NULL, "
                "finished_at = NULL, stop_request = CASE WHEN state = ? THEN NULL ELSE stop_request END "
                "WHERE id = ?",
                (running, now, now, os.getpid(), process_token(), self._hostname, dump_json(env), dump_json(info),
                 queued, trial_id))

    def log_script(self, trial_id: int, rows: Sequence[MetricRow], progress: ScriptProgress) -> None:
        """One batch of a script's metrics and where it stands, in one transaction (its heartbeat too)."""
        accuracies = [value for _epoch, _step, metric, value in rows if metric == VAL_ACC]
        most = max(accuracies) if accuracies else None
        with self._write() as conn:
            _insert_rows(conn, trial_id, rows)
            cur = conn.execute(
                f"UPDATE trials SET epochs_run = ?, steps = ?, best_epoch = ?, best_val_loss = ?, {sql_column(VAL_ACC_AT_BEST)} = ?, "
                f"{keep_max(MAX_VAL_ACC)}, heartbeat = ? WHERE id = ?",
                (progress.epochs_run, progress.steps, progress.best_epoch, progress.best_val_loss,
                 progress.val_acc_at_best, most, most, time.time(), trial_id))
            if cur.rowcount == 0:
                raise StoreError(f"no trial with id {trial_id} in {self._where}")

    def request_stop(self, trial_id: int, state: str, reason: str) -> None:
        """Ask a script trial to stop (its `run.should_stop()` reads this); recorded as `state` when it does."""
        with self._write() as conn:
            conn.execute("UPDATE trials SET stop_request = ? WHERE id = ?",
                         (json.dumps({"state": state, "reason": reason}), trial_id))

    def stop_request(self, trial_id: int) -> tuple[TrialState, str] | None:
        """How a trial was asked to stop (`requested_stop`), or None; one read by primary key."""
        with self._read() as conn:
            row = conn.execute("SELECT stop_request FROM trials WHERE id = ?", (trial_id,)).fetchone()
        if row is None or not row[0]:
            return None
        try:
            value = json.loads(row[0])
        except ValueError:
            value = {}
        return requested_stop(value if isinstance(value, Mapping) else {})


def _insert_rows(conn: sqlite3.Connection, trial_id: int, rows: Sequence[MetricRow]) -> None:
    """Insert in order, `_CHUNK` rows a statement: a batch of thousands of step losses costs a few
    statements instead of a statement (and a hand-over of the GIL) per row."""
    head = "INSERT INTO metrics (trial_id, epoch, step, metric, value) VALUES "
    one = f"({int(trial_id)}, ?, ?, ?, ?)"
    whole = len(rows) - len(rows) % _CHUNK
    if whole:
        many = head + ", ".join([one] * _CHUNK)
        for start in range(0, whole, _CHUNK):
            conn.execute(many, [value for row in rows[start:start + _CHUNK] for value in row])
    if whole < len(rows):
        conn.executemany(head + one, rows[whole:])


def requested_stop(request: Mapping[str, Any]) -> tuple[TrialState, str]:
    """A stop request (a trial row's `stop_request`) as (state, reason): a state that is no end reads as
    cancelled, a missing reason as "<state> by request"."""
    try:
        state = TrialState(request.get("state"))
    except ValueError:
        state = TrialState.CANCELLED
    state = state if state.is_finished else TrialState.CANCELLED
    return state, str(request.get("reason") or f"{state.value} by request")
