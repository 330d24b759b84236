"""Store faults on real SQLite: a full database, a lock held past the timeout, a read-only file or folder.

A full disk is made real with SQLite's own `PRAGMA max_page_count`: the database cannot grow past it
and SQLite raises SQLITE_FULL exactly as it does for a full disk (a tmpfs would need root to mount).
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.errors import StoreBusyError, StoreError, StoreFault, StoreReadOnlyError
from engine.events import StepLoss
from engine.states import TrialState
from engine.store import Store
from engine.store.faults import TIMEOUT_VAR, busy_timeout, store_error
from tests.engine.store.test_store import epoch_event, started_event

HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def new_trial(store: Store) -> int:
    trial_id = store.create_trial(Config.from_dict({"task": {"name": "toy2d"}}))
    store.start_trial(trial_id, started_event(), {})
    return trial_id


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator:
    """Start a process that holds the store's lock (BEGIN EXCLUSIVE) for `seconds`, then ends by itself."""
    procs: list[subprocess.Popen] = []

    def hold(path: Path, seconds: float = 3.0) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_a_full_database_says_the_disk_is_full_and_keeps_what_was_committed(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    trial_id = new_trial(store)
    store.record(trial_id, epoch_event(1))
    assert store._conn is not None
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # no room left: SQLITE_FULL, as on a full disk
    for step in range(3000):
        store.record(trial_id, StepLoss(epoch=2, step=step, loss=0.5))
    with pytest.raises(StoreFault, match="the disk holding .* is full.*nothing committed before was lost") as caught:
        store.record(trial_id, epoch_event(2))
    assert caught.value.exit_status == 74
    assert "\n" not in str(caught.value)
    # the trial ends interrupted (its write failed: the store's fault), once there is room again
    store._conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.mark_finished(trial_id, TrialState.CANCELLED, "stopped before the trial finished") is None
    store.close()
    with Store(tmp_path / "s.db") as again:
        record = again.trial(trial_id)
        assert record.state is TrialState.INTERRUPTED
        assert record.reason is not None and "is full" in record.reason
        assert [e["epoch"] for e in again.epochs(trial_id)] == [1]  # committed before the fault: kept


def test_mark_finished_on_a_full_store_returns_the_fault_instead_of_raising(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        trial_id = new_trial(store)
        assert store._conn is not None
        store._conn.execute(f"PRAGMA max_page_count = {store._conn.execute('PRAGMA page_count').fetchone()[0]}")
        for step in range(3000):
            store.record(trial_id, StepLoss(epoch=1, step=step, loss=0.5))
        fault = store.mark_finished(trial_id, TrialState.FAILED, "the executor failed")
        assert isinstance(fault, StoreFault) and "is full" in str(fault)
        assert store.trial(trial_id).state is TrialState.RUNNING  # left for recovery, nothing half-written


def test_a_lock_held_past_the_timeout_is_its_own_error(tmp_path: Path, lock_holder, monkeypatch) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    monkeypatch.setenv(TIMEOUT_VAR, "0.3")
    store = Store(path)
    trial_id = new_trial(store)
    holder = lock_holder(path, 30)
    with pytest.raises(StoreBusyError, match=r"another process holds the store's lock .* past the 0.3 s wait") as caught:
        store.record(trial_id, epoch_event(1))
    assert caught.value.exit_status == 75
    holder.kill()
    holder.wait(10)
    # what the runner does next (`stopped before the trial finished`) ends it interrupted, resumable
    store.mark_finished(trial_id, TrialState.CANCELLED, "stopped before the trial finished (its runner was interrupted)")
    record = store.trial(trial_id)
    assert record.state is TrialState.INTERRUPTED
    assert record.reason is not None and "another process holds the store's lock" in record.reason
    # and a second, plain FAILED from the pool does not hide that cause
    store.mark_finished(trial_id, TrialState.FAILED, "the executor failed: StoreBusyError")
    assert store.trial(trial_id).state is TrialState.INTERRUPTED
    store.close()


def test_opening_a_store_locked_past_the_timeout(tmp_path: Path, lock_holder, monkeypatch) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    monkeypatch.setenv(TIMEOUT_VAR, "0.2")
    lock_holder(path, 30)
    with pytest.raises(StoreBusyError, match="another process holds"):
        Store(path)


def test_the_timeout_variable_is_checked(monkeypatch) -> None:
    monkeypatch.setenv(TIMEOUT_VAR, "soon")
    with pytest.raises(StoreError, match="must be a number of seconds"):
        busy_timeout()
    monkeypatch.setenv(TIMEOUT_VAR, "2.5")
    assert busy_timeout() == 2.5


def test_sqlite_errors_are_worded_by_their_code(tmp_path: Path) -> None:
    def error(code: int, text: str) -> sqlite3.Error:
        exc = sqlite3.OperationalError(text)
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
        return exc

    assert "the disk failed to read or write" in str(store_error(error(10 | (3 << 8), "disk I/O error"), tmp_path / "s"))
    assert isinstance(store_error(error(8, "attempt to write a readonly database"), "s"), StoreReadOnlyError)
    assert isinstance(store_error(error(5, "database is locked"), "s"), StoreBusyError)
    assert "not a tunedeck store" in str(store_error(error(26, "file is not a database"), "s"))
    assert type(store_error(error(1, "no such table: x"), "s")) is StoreError


def _populated(path: Path) -> int:
    with Store(path) as store:
        trial_id = new_trial(store)
        store.record(trial_id, epoch_event(1))
    return trial_id


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the permissions say; tests/cli drops to nobody")
@pytest.mark.parametrize("locked", ["file", "folder"])
def test_a_read_only_store_opens_read_only(tmp_path: Path, locked: str) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "s.db"
    trial_id = _populated(path)
    target = path if locked == "file" else folder
    target.chmod(0o444 if locked == "file" else 0o555)
    try:
        with pytest.raises(StoreError):
            Store(path)
        with Store(path, allow_read_only=True) as store:
            assert store.read_only and "read-only" in store.read_only
            assert store.trial(trial_id).epochs_run == 1
            with pytest.raises(StoreReadOnlyError, match="must write"):
                store.create_trial(Config.from_dict({"task": {"name": "toy2d"}}))
    finally:
        target.chmod(0o755)
