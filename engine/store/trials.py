"""The SQLite trial store: the source of truth for every trial and every metric it logged.

WAL mode and short write transactions let the UI read while a trainer writes, and let two
processes write one file. Each epoch is committed as it ends, so a crash loses at most the epoch
in flight; a trial left running by a dead process is marked interrupted on the next open.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import StoreError, StoreFault, StoreReadOnlyError
from engine.events import SUMMARY_COLUMNS, EpochEnded, Event, StepLoss, TrialFinished, TrialStarted
from engine.metric_names import MAX_VAL_ACC, VAL_ACC_AT_BEST
from engine.states import TrialState
from engine.store.changes import StoreChanges
from engine.store.checkpoints import CheckpointRecords
from engine.store.commands import SupervisorRecords
from engine.store.faults import busy_timeout, note_fault, set_wal, store_error
from engine.store.liveness import process_token
from engine.store.readonly import connect_read_only, read_only_reason
from engine.store.reads import MetricReads
from engine.store.recovery import SUPERVISOR, recover
from engine.store.schema import (
    STEP_METRIC,
    TrialRecord,
    dump_json,
    keep_max,
    prepare,
    record_from_row,
    sql_column,
)
from engine.store.script_runs import ScriptRunRecords
from engine.store.sweeps import SweepRecords

if TYPE_CHECKING:
    from engine.config.groups import Config

STORE_FAILED = "the store failed while the trial ran"  # the reason of a trial the store ended


class Store(MetricReads, SweepRecords, StoreChanges, SupervisorRecords, CheckpointRecords, ScriptRunRecords):
    """An open trial store; use it as a context manager or call `close()`.

    One connection is shared by the threads of a process (the UI thread reads while a worker
    writes), serialised by a lock. `owner` tags the trials this process creates ('supervisor' in
    the store's supervisor, so that `tunedeck status` can tell its trials from a foreground run's).
    """

    def __init__(self, path: str | Path, *, owner: str = "", allow_read_only: bool = False) -> None:
        """`allow_read_only`: a store this process may not write is opened read-only (no recovery);
        `read_only` then says why, and every write raises StoreReadOnlyError."""
        self.path = Path(path)
        self.read_only: str | None = None
        self._timeout = busy_timeout()
        self._faults: dict[int, StoreFault] = {}  # a trial's own write that failed: how it ends
        self.owner = owner
        self._where = str(self.path)
        self._lock = threading.Lock()
        self._steps: dict[int, list[tuple[int, int, str, float]]] = {}
        self._hostname = socket.gethostname()
        self._conn: sqlite3.Connection | None = None
        self.created = False
        why = read_only_reason(self.path) if allow_read_only else None
        try:
            self._open() if why is None else self._open_read_only(why)
        except StoreReadOnlyError as exc:
            if not allow_read_only or self.read_only:
                raise
            self._open_read_only(str(exc))

    def _open_read_only(self, why: str) -> None:
        self._conn, how = connect_read_only(self.path, self._timeout)
        self._conn.row_factory = sqlite3.Row
        self.read_only = f"{how} ({why})"
        with self._read() as conn:
            prepare(conn, self._where, read_only=True)

    def _open(self) -> None:
        path = self.path
        if path.is_dir():
            raise StoreError(f"{path}: is a directory, not a tunedeck store")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create directory {path.parent}: {exc.strerror or exc}") from None
        # No peeking at the file's header with open(): closing any descriptor of a file drops every
        # POSIX lock this process holds on it, so a second Store in a process that already has the file
        # open would lose its first connection's locks (and another process could then delete the WAL
        # under it: "disk I/O error"). SQLite says "file is not a database" itself; _error words it.
        try:
            conn = sqlite3.connect(path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open: {exc}") from None
        conn.row_factory = sqlite3.Row
        self._conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            mode = set_wal(conn, self._timeout)
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: cannot switch the store to WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            with self._write() as c:
                self.created = prepare(c, self._where)
                if not self.created:
                    recover(c, self._hostname)
        except BaseException as exc:
            conn.close()
            self._conn = None
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file; step losses of an unfinished epoch are dropped, as a crash would."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __repr__(self) -> str:
        return f"Store({self._where!r})"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short IMMEDIATE transaction: it waits for other writers instead of failing."""
        with self._lock:
            conn = self._connection()
            if self.read_only:
                raise StoreReadOnlyError(f"{self._where}: opened {self.read_only}: this command must write to it")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from None
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self._where}: the store is closed")
        return self._conn

    def _error(self, exc: sqlite3.Error) -> StoreError:
        error = store_error(exc, self._where, self._timeout)
        note_fault(str(self.path), error)
        return error

    def create_trial(self, config: Config, *, sweep_id: int | None = None, for_supervisor: bool = False) -> int:
        """Record a trial before it runs, so that a queue survives a restart of the UI.

        `for_supervisor`: queue it for the store's supervisor, which claims it (`claim_trial`); until
        then no process holds it, so a crash of the client loses nothing.
        """
        owner, held = (SUPERVISOR, False) if for_supervisor else (self.owner, True)
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO trials (name, state, task, config_json, sweep_id, created_at, pid, proc_start, "
                "hostname, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (config.name or config.task.name, TrialState.QUEUED.value, config.task.name,
                 dump_json(config.to_dict()), sweep_id, time.time(), os.getpid() if held else None,
                 process_token() if held else "", self._hostname if held else "", owner),
            )
            assert cur.lastrowid is not None  # an INSERT always sets it
            return cur.lastrowid

    def unclaimed_trials(self) -> list[TrialRecord]:
        """Trials queued for the supervisor that no process holds yet, oldest first."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM trials WHERE state = ? AND owner = ? AND pid IS NULL ORDER BY id",
                                (TrialState.QUEUED.value, SUPERVISOR)).fetchall()
        return [record_from_row(row, self._where) for row in rows]

    def claim_trial(self, trial_id: int) -> bool:
        """Take a queued trial for this process: one conditional update, so two claimants never both win."""
        with self._write() as conn:
            cur = conn.execute("UPDATE trials SET pid = ?, proc_start = ?, hostname = ?, heartbeat = ? "
                               "WHERE id = ? AND state = ? AND pid IS NULL",
                               (os.getpid(), process_token(), self._hostname, time.time(), trial_id,
                                TrialState.QUEUED.value))
            return cur.rowcount == 1

    def requeue(self, trial_id: int, *, for_supervisor: bool = False) -> bool:
        """Queue an interrupted or cancelled trial again, to resume it (in this process, or in the
        supervisor's); one conditional update, so that two resumes of one trial never both run it."""
        held = (None, "", "", SUPERVISOR) if for_supervisor else (os.getpid(), process_token(), self._hostname, self.owner)
        with self._write() as conn:
            cur = conn.execute("UPDATE trials SET state = ?, pid = ?, proc_start = ?, hostname = ?, owner = ? "
                               "WHERE id = ? AND state IN (?, ?)",
                               (TrialState.QUEUED.value, *held, trial_id, TrialState.INTERRUPTED.value,
                                TrialState.CANCELLED.value))
            return cur.rowcount == 1

    def cancel_unclaimed(self, trial_id: int, reason: str) -> bool:
        """Cancel a queued trial that no process holds yet (no supervisor needed); False: it is held or over."""
        with self._write() as conn:
            cur = conn.execute("UPDATE trials SET state = ?, reason = ?, finished_at = ? "
                               "WHERE id = ? AND state = ? AND pid IS NULL",
                               (TrialState.CANCELLED.value, reason, time.time(), trial_id, TrialState.QUEUED.value))
            return cur.rowcount == 1

    def beat(self, trial_id: int) -> None:
        """The trainer of this trial is alive (what recovery goes by when the pid means nothing here)."""
        with self._write() as conn:
            conn.execute("UPDATE trials SET heartbeat = ? WHERE id = ?", (time.time(), trial_id))

    def start_trial(self, trial_id: int, started: TrialStarted, env: dict[str, Any]) -> None:
        """Claim the trial for this process: its pid and start token are what recovery checks."""
        run_info = {f.name: getattr(started, f.name) for f in dataclasses.fields(started)
                    if f.name not in ("device", "n_params", "problem")}
        with self._write() as conn:
            now = time.time()
            cur = conn.execute(
                "UPDATE trials SET state = ?, started_at = COALESCE(started_at, ?), heartbeat = ?, pid = ?, "
                "proc_start = ?, hostname = ?, env_json = ?, run_info_json = ?, problem = ?, n_params = ?, device = ?, "
                "reason = NULL, error = NULL, finished_at = NULL WHERE id = ?",
                (TrialState.RUNNING.value, now, now, os.getpid(), process_token(), self._hostname,
                 dump_json(env), dump_json(run_info), started.problem, started.n_params, started.device,
                 trial_id),
            )
            self._require(cur, trial_id)

    def record(self, trial_id: int, event: Event) -> None:
        """Store one event; step losses wait for their epoch so that each epoch is one commit."""
        if isinstance(event, StepLoss):
            with self._lock:
                self._steps.setdefault(trial_id, []).append((event.epoch, event.step, STEP_METRIC, event.loss))
        elif isinstance(event, EpochEnded):
            self._record_epoch(trial_id, event)
        elif isinstance(event, TrialFinished):
            self._record_finish(trial_id, event)
        elif not isinstance(event, TrialStarted):
            raise TypeError(f"not a training event: {event!r}")

    @contextmanager
    def _write_with_steps(self, trial_id: int) -> Iterator[sqlite3.Connection]:
        """A write transaction that also stores the trial's buffered step losses.

        The buffer is emptied only once the commit succeeded, so a failed write loses nothing.
        """
        try:
            with self._write() as conn:
                if conn.execute("SELECT 1 FROM trials WHERE id = ?", (trial_id,)).fetchone() is None:
                    raise StoreError(f"no trial with id {trial_id} in {self._where}")
                pending = list(self._steps.get(trial_id, ()))
                if pending:
                    conn.executemany(
                        "INSERT INTO metrics (trial_id, epoch, step, metric, value) VALUES (?, ?, ?, ?, ?)",
                        [(trial_id, *row) for row in pending])
                yield conn
        except StoreFault as exc:
            self._faults[trial_id] = exc
            raise
        if pending:
            with self._lock:
                rest = self._steps.get(trial_id, [])[len(pending):]
                if rest:
                    self._steps[trial_id] = rest
                else:
                    self._steps.pop(trial_id, None)

    def _record_epoch(self, trial_id: int, e: EpochEnded) -> None:
        values = {"train_loss": e.train_loss, "val_loss": e.val_loss, "val_acc": e.val_acc, "lr": e.lr,
                  "epoch_seconds": e.seconds}
        rows = [(trial_id, e.epoch, e.step, name, float(v)) for name, v in values.items() if v is not None]
        with self._write_with_steps(trial_id) as conn:
            conn.executemany(
                "INSERT INTO metrics (trial_id, epoch, step, metric, value) VALUES (?, ?, ?, ?, ?)", rows)
            if e.improved:
                cur = conn.execute(
                    f"UPDATE trials SET epochs_run = ?, steps = ?, best_epoch = ?, best_val_loss = ?, "
                    f"{sql_column(VAL_ACC_AT_BEST)} = ?, {keep_max(MAX_VAL_ACC)} WHERE id = ?",
                    (e.epoch, e.step, e.epoch, e.val_loss, e.val_acc, e.val_acc, e.val_acc, trial_id))
            else:
                cur = conn.execute(f"UPDATE trials SET epochs_run = ?, steps = ?, {keep_max(MAX_VAL_ACC)} WHERE id = ?",
                                   (e.epoch, e.step, e.val_acc, e.val_acc, trial_id))
            self._require(cur, trial_id)

    def _record_finish(self, trial_id: int, e: TrialFinished) -> None:
        s = e.summary
        columns = [name for name in SUMMARY_COLUMNS if name != MAX_VAL_ACC]  # that one only rises: a loop
        with self._write_with_steps(trial_id) as conn:  # resumed from an older checkpoint knows its later epochs
            cur = conn.execute(
                "UPDATE trials SET state = ?, reason = ?, error = ?, finished_at = ?, duration_s = ?, "
                + ", ".join([*(f"{sql_column(name)} = ?" for name in columns), keep_max(MAX_VAL_ACC)]) + " WHERE id = ?",
                (TrialState(e.state).value, e.reason, e.error, time.time(), e.seconds,
                 *(getattr(s, name) for name in columns), s.max_val_acc, s.max_val_acc, trial_id),
            )
            self._require(cur, trial_id)

    def mark_finished(self, trial_id: int, state: TrialState, reason: str, error: str | None = None) -> StoreFault | None:
        """End a trial whose loop never said so itself, e.g. a child process killed under us. One whose own
        write failed (disk full, lock held too long) ended because of the store: `interrupted`, saying why.
        A store failing here too is returned, not raised (the error that ended the trial is the one to
        report); the row left running is marked interrupted by the next open once this process is gone."""
        fault = self._faults.pop(trial_id, None)
        lost = (TrialState.CANCELLED, TrialState.FAILED)
        if fault is not None and state in lost:
            state, reason = TrialState.INTERRUPTED, f"{STORE_FAILED}: {fault}"
        now = time.time()
        try:
            with self._write_with_steps(trial_id) as conn:
                row = conn.execute("SELECT state, reason FROM trials WHERE id = ?", (trial_id,)).fetchone()
                if state in lost and row[0] == TrialState.INTERRUPTED.value and str(row[1] or "").startswith(STORE_FAILED):
                    return None  # already ended by the store's fault (its runner said so): that is the cause
                cur = conn.execute(
                    "UPDATE trials SET state = ?, reason = ?, error = ?, finished_at = ?, "
                    "duration_s = CASE WHEN started_at IS NULL THEN NULL ELSE ? - started_at END WHERE id = ?",
                    (TrialState(state).value, reason, error, now, now, trial_id))
                self._require(cur, trial_id)
        except StoreFault as exc:
            self._faults.pop(trial_id, None)
            return exc
        return None

    def _require(self, cur: sqlite3.Cursor, trial_id: int) -> None:
        if cur.rowcount == 0:
            raise StoreError(f"no trial with id {trial_id} in {self._where}")

    def trial(self, trial_id: int) -> TrialRecord:
        """One trial; an unknown id is the user's typo, so it is a StoreError, not a KeyError."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
        if row is None:
            raise StoreError(f"no trial with id {trial_id} in {self._where}")
        return record_from_row(row, self._where)

    def trials(self, *, sweep_id: int | None = None, states: Iterable[TrialState] | None = None) -> list[TrialRecord]:
        """Every trial (or a sweep's, or those in `states`) in id order, which is creation order: the
        table's natural order. `states` reads through an index: asking for the unfinished trials of a
        store of 100,000 reads those few rows."""
        where: list[str] = []
        params: list[int | str] = []
        if sweep_id is not None:
            where.append("sweep_id = ?")
            params.append(sweep_id)
        if states is not None:
            values = [TrialState(s).value for s in states]
            if not values:
                return []
            where.append(f"state IN ({', '.join('?' * len(values))})")
            params.extend(values)
        query = "SELECT * FROM trials" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return [record_from_row(row, self._where) for row in rows]
