"""The on-disk layout of the trial store and how a stored row becomes a `TrialRecord`.

Kept apart from `engine.store.trials` so that the layout, its version and the rules for reading old
files sit in one place. A record holds the config as the stored dict, never a `Config`: a store
written by an older tunedeck must stay readable after the knobs move.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from engine.errors import StoreError
from engine.metric_names import EPOCH_METRICS as EPOCH_METRICS  # re-exported: engine.store.reads and others
from engine.metric_names import MAX_VAL_ACC, VAL_ACC, VAL_ACC_AT_BEST
from engine.states import TrialState

SCHEMA_VERSION = 6  # 2 the sweeps table; 3 heartbeats, change counters, commands, the supervisor row;
#                    4 checkpoints and a trial's note; 5 a stop request to a trial's own script;
#                    6 max_val_acc added (engine.metric_names)
APP_NAME = "tunedeck"
STEP_METRIC = "step_loss"

# A summary name whose SQL column keeps an older name (the one place that maps them). Version 6 named the
# concept val_acc_at_best (engine.metric_names) but left the column as it was: renaming it would break an older
# tunedeck still writing to the store (a supervisor or run started before the upgrade), and the column always
# held this value, the val_acc at the monitored metric's best epoch. Records, tables and exports use the name.
SQL_NAMES: dict[str, str] = {VAL_ACC_AT_BEST: "best_val_acc"}


def sql_column(name: str) -> str:
    """The trials table's column that holds the summary value `name`."""
    return SQL_NAMES.get(name, name)


TRIAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("name", "TEXT NOT NULL"),
    ("state", "TEXT NOT NULL"),
    ("reason", "TEXT"),
    ("error", "TEXT"),
    ("task", "TEXT NOT NULL"),
    ("config_json", "TEXT NOT NULL"),
    ("sweep_id", "INTEGER"),
    ("created_at", "REAL NOT NULL"),
    ("started_at", "REAL"),
    ("finished_at", "REAL"),
    ("duration_s", "REAL"),
    ("pid", "INTEGER"),
    ("proc_start", "TEXT NOT NULL DEFAULT ''"),
    ("hostname", "TEXT NOT NULL DEFAULT ''"),
    ("env_json", "TEXT NOT NULL DEFAULT '{}'"),
    ("run_info_json", "TEXT NOT NULL DEFAULT '{}'"),
    ("problem", "TEXT"),
    ("n_params", "INTEGER"),
    ("device", "TEXT"),
    ("best_epoch", "INTEGER"),
    ("best_val_loss", "REAL"),
    (sql_column(VAL_ACC_AT_BEST), "REAL"),
    ("test_loss", "REAL"),
    ("test_acc", "REAL"),
    ("epochs_run", "INTEGER NOT NULL DEFAULT 0"),
    ("steps", "INTEGER NOT NULL DEFAULT 0"),
    ("owner", "TEXT NOT NULL DEFAULT ''"),  # 'supervisor': queued for, or run by, the store's supervisor
    ("heartbeat", "REAL"),  # the trainer's last sign of life (every few seconds while it runs)
    ("rev", "INTEGER NOT NULL DEFAULT 0"),  # the store-wide change counter when the row last changed
    ("note", "TEXT"),  # the latest warning while it ran (a checkpoint skipped for want of disk space, ...)
    ("stop_request", "TEXT"),  # JSON {"state", "reason"}: asked of a script trial (its run.should_stop())
    (MAX_VAL_ACC, "REAL"),  # last: where version 6's upgrade adds it
)
# Every column but the counter itself and the heartbeat (which changes nothing a reader shows).
WATCHED_COLUMNS = tuple(n for n, _ in TRIAL_COLUMNS if n not in ("id", "rev", "heartbeat"))

SWEEP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("name", "TEXT NOT NULL"),
    ("state", "TEXT NOT NULL"),
    ("reason", "TEXT"),
    ("spec_json", "TEXT NOT NULL"),
    ("base_json", "TEXT NOT NULL"),
    ("planned", "INTEGER NOT NULL"),
    ("created_at", "REAL NOT NULL"),
    ("finished_at", "REAL"),
    ("pid", "INTEGER"),
    ("proc_start", "TEXT NOT NULL DEFAULT ''"),
    ("hostname", "TEXT NOT NULL DEFAULT ''"),
    ("heartbeat", "REAL"),
)
SWEEPS_DDL = "CREATE TABLE IF NOT EXISTS sweeps (" + ", ".join(f"{n} {t}" for n, t in SWEEP_COLUMNS) + ")"

# Clients (the cockpit, the CLI) ask the store's supervisor to act by adding a row here; it polls.
COMMANDS_DDL = ("CREATE TABLE IF NOT EXISTS commands (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
                "args_json TEXT NOT NULL, created_at REAL NOT NULL, done_at REAL, result TEXT)")
# The one supervisor of this store says who and where it is, and keeps the user's parallelism.
SUPERVISOR_DDL = ("CREATE TABLE IF NOT EXISTS supervisor (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, "
                  "proc_start TEXT NOT NULL DEFAULT '', hostname TEXT NOT NULL DEFAULT '', started_at REAL, "
                  "heartbeat REAL, stopped_at REAL, parallel INTEGER NOT NULL DEFAULT 1, idle_exit REAL)")
# Each checkpoint file a trial wrote, as the files beside the store should be (engine/execution/checkpoints).
CHECKPOINTS_DDL = ("CREATE TABLE IF NOT EXISTS checkpoints (id INTEGER PRIMARY KEY AUTOINCREMENT, trial_id INTEGER NOT "
                   "NULL REFERENCES trials(id) ON DELETE CASCADE, kind TEXT NOT NULL, path TEXT NOT NULL, epoch INTEGER "
                   "NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, created_at REAL NOT NULL)")
# `rev` is one counter for the whole table: a reader asks for `rev > last seen` and gets exactly the
# rows changed since, whoever changed them, without re-reading the others (writers are serialised
# by IMMEDIATE transactions, so the counter only grows).
_NEXT_REV = "(SELECT COALESCE(MAX(rev), 0) + 1 FROM trials)"
CHANGE_DDL = (
    "CREATE INDEX IF NOT EXISTS trials_rev ON trials(rev)",
    "CREATE INDEX IF NOT EXISTS trials_state ON trials(state)",
    "CREATE INDEX IF NOT EXISTS trials_sweep ON trials(sweep_id)",
    f"CREATE TRIGGER IF NOT EXISTS trials_rev_insert AFTER INSERT ON trials BEGIN "
    f"UPDATE trials SET rev = {_NEXT_REV} WHERE id = NEW.id; END",
    f"CREATE TRIGGER IF NOT EXISTS trials_rev_update AFTER UPDATE OF {', '.join(WATCHED_COLUMNS)} ON trials "
    f"BEGIN UPDATE trials SET rev = {_NEXT_REV} WHERE id = NEW.id; END",
)

DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS trials (" + ", ".join(f"{n} {t}" for n, t in TRIAL_COLUMNS) + ")",
    "CREATE TABLE IF NOT EXISTS metrics ("
    "trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE, "
    "epoch INTEGER NOT NULL, step INTEGER NOT NULL, metric TEXT NOT NULL, value REAL)",
    "CREATE INDEX IF NOT EXISTS metrics_trial ON metrics(trial_id, step)",
    SWEEPS_DDL,
    COMMANDS_DDL,
    SUPERVISOR_DDL,
    CHECKPOINTS_DDL,
    *CHANGE_DDL,
)


@dataclass(frozen=True)
class TrialRecord:
    """One trial as stored: its config dict, where and how it ran, and its summary."""

    id: int
    name: str
    state: TrialState
    reason: str | None
    error: str | None
    task: str
    config: dict[str, Any] = field(hash=False)
    sweep_id: int | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    duration_s: float | None
    pid: int | None
    proc_start: str
    hostname: str
    env: dict[str, Any] = field(hash=False)
    run_info: dict[str, Any] = field(hash=False)  # TrialStarted's split sizes, threads and task facts
    problem: str | None
    n_params: int | None
    device: str | None
    best_epoch: int | None
    best_val_loss: float | None
    val_acc_at_best: float | None  # what each summary name means: engine.metric_names
    test_loss: float | None
    test_acc: float | None
    epochs_run: int
    steps: int
    owner: str = ""
    heartbeat: float | None = None
    note: str | None = None
    stop_request: dict[str, Any] | None = field(default=None, hash=False)
    max_val_acc: float | None = None


def prepare(conn: sqlite3.Connection, path: str, *, read_only: bool = False) -> bool:
    """Create the schema in an empty database or check an existing one; True when created.

    Runs inside the caller's write transaction so that two processes opening a new file at once
    do not both create it. `read_only`: only check (an empty or older store cannot be made ready).
    """
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables.discard("sqlite_sequence")
    if not tables and read_only:
        raise StoreError(f"{path}: an empty store, opened read-only: nothing to read yet")
    if not tables:
        for statement in DDL:
            conn.execute(statement)
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                         [("app", APP_NAME), ("schema_version", str(SCHEMA_VERSION))])
        return True
    if "meta" not in tables:
        raise StoreError(f"{path}: not a tunedeck store (an SQLite file without a meta table)")
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    raw = meta.get("schema_version")
    if meta.get("app") != APP_NAME or raw is None or not str(raw).isdigit():
        raise StoreError(f"{path}: not a tunedeck store (meta table has no tunedeck schema_version)")
    version = int(raw)
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: store schema version {version} is newer than this tunedeck "
                         f"understands ({SCHEMA_VERSION}); upgrade tunedeck to open it")
    missing = {"trials", "metrics"} - tables
    if missing:
        raise StoreError(f"{path}: damaged tunedeck store (missing table {', '.join(sorted(missing))})")
    if version < SCHEMA_VERSION and read_only:
        raise StoreError(f"{path}: store schema version {version} is older than this tunedeck's ({SCHEMA_VERSION}) "
                         "and the store is read-only here: open it once where it may be written, to upgrade it")
    if version < SCHEMA_VERSION:
        _upgrade(conn, version)
    return False


def _upgrade(conn: sqlite3.Connection, version: int) -> None:
    """Bring an older store up to this version, in the caller's transaction; no row is lost."""
    if version < 2:
        conn.execute(SWEEPS_DDL)
    if version < 3:
        for name in ("owner", "heartbeat", "rev"):
            _add_trial_column(conn, name)
        if version == 2:  # a version-1 store's sweeps table was just made with every column
            conn.execute(f"ALTER TABLE sweeps ADD COLUMN {SWEEP_COLUMNS[-1][0]} {SWEEP_COLUMNS[-1][1]}")
        conn.execute("UPDATE trials SET rev = id")
        for statement in (COMMANDS_DDL, SUPERVISOR_DDL, *CHANGE_DDL[:3]):
            conn.execute(statement)
    if version < 4:
        _add_trial_column(conn, "note")
        conn.execute(CHECKPOINTS_DDL)
    if version < 5:
        _add_trial_column(conn, "stop_request")
    if version < 6:
        triggers = CHANGE_DDL[3:]  # they name every watched column: made again once the columns are final
        for statement in triggers:
            conn.execute("DROP TRIGGER IF EXISTS " + statement.split()[5])
        _add_trial_column(conn, MAX_VAL_ACC)
        conn.execute(f"UPDATE trials SET {MAX_VAL_ACC} = {MAX_VAL_ACC_OF_ROWS}")
        for statement in triggers:
            conn.execute(statement)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def _add_trial_column(conn: sqlite3.Connection, name: str) -> None:
    kind = dict(TRIAL_COLUMNS)[name]
    conn.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")


def _load_json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def dump_json(value: Any) -> str:
    return json.dumps(value, default=str)


# The highest val_acc among a trial's stored epochs (NULL without one), in an `UPDATE trials` statement.
MAX_VAL_ACC_OF_ROWS = (f"(SELECT MAX(value) FROM metrics WHERE metrics.trial_id = trials.id AND metric = '{VAL_ACC}' "
                       "AND value IS NOT NULL)")


def keep_max(column: str) -> str:
    """`column = ` the larger of its value and a new one (two `?` parameters, both the new value; a None
    leaves it): a best-of-all-epochs column that each write may only raise."""
    return f"{column} = MAX(COALESCE(?, {column}), COALESCE({column}, ?))"


def record_from_row(row: sqlite3.Row, path: str) -> TrialRecord:
    """A TrialRecord from a `SELECT * FROM trials` row."""
    data = dict(zip(row.keys(), tuple(row)))
    try:
        state = TrialState(data["state"])
    except ValueError:
        raise StoreError(f"{path}: trial {data['id']} has unknown state {data['state']!r}") from None
    return TrialRecord(
        id=data["id"], name=data["name"], state=state, reason=data["reason"], error=data["error"],
        task=data["task"], config=_load_json(data["config_json"]), sweep_id=data["sweep_id"],
        created_at=data["created_at"], started_at=data["started_at"], finished_at=data["finished_at"],
        duration_s=data["duration_s"], pid=data["pid"], proc_start=data["proc_start"] or "",
        hostname=data["hostname"] or "", env=_load_json(data["env_json"]),
        run_info=_load_json(data["run_info_json"]), problem=data["problem"], n_params=data["n_params"],
        device=data["device"], best_epoch=data["best_epoch"], best_val_loss=data["best_val_loss"],
        val_acc_at_best=data[sql_column(VAL_ACC_AT_BEST)], test_loss=data["test_loss"], test_acc=data["test_acc"],
        epochs_run=data["epochs_run"] or 0, steps=data["steps"] or 0, owner=data.get("owner") or "",
        heartbeat=data.get("heartbeat"), note=data.get("note"),
        stop_request=_load_json(data.get("stop_request")) or None, max_val_acc=data.get(MAX_VAL_ACC),
    )
