"""SQLite's errors as messages that say what happened to the store and what to do about it.

A full disk, a failing disk, a lock held past the busy timeout and a read-only file each get their
own `StoreFault` (and exit status); nothing committed before such an error is lost, since every
write is one transaction that either commits whole or not at all.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from engine.errors import StoreBusyError, StoreError, StoreFault, StoreReadOnlyError, safe_text

TIMEOUT_VAR = "TUNEDECK_STORE_TIMEOUT"  # seconds a write waits for another process's lock
DEFAULT_TIMEOUT = 30.0

# SQLite's primary result codes (the low byte of an extended code).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR = 5, 6, 8, 10
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 11, 13, 14, 26
KEPT = "nothing committed before was lost"


def busy_timeout() -> float:
    """How long a write waits for another process's lock: $TUNEDECK_STORE_TIMEOUT seconds, else 30."""
    raw = os.environ.get(TIMEOUT_VAR, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise StoreError(f"${TIMEOUT_VAR} must be a number of seconds, got {safe_text(raw, 40)!r}") from None
    if not 0 <= value <= 86_400:
        raise StoreError(f"${TIMEOUT_VAR} must be between 0 and 86400 seconds, got {safe_text(raw, 40)}")
    return value


def primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc)  # an error raised before Python knew its code (rare): go by SQLite's wording
    for words, guess in (("disk is full", SQLITE_FULL), ("locked", SQLITE_BUSY), ("readonly", SQLITE_READONLY),
                         ("disk I/O", SQLITE_IOERR), ("not a database", SQLITE_NOTADB)):
        if words in text:
            return guess
    return None


FULL_BELOW = 1 << 20  # bytes free under which an I/O error is taken for a full disk


def _nearly_full(folder: Path) -> bool:
    """SQLite reports a full disk met while writing its WAL or shared memory as a plain "disk I/O error"."""
    import shutil

    try:
        return shutil.disk_usage(folder).free < FULL_BELOW
    except OSError:
        return False


def store_error(exc: sqlite3.Error, path: Path | str, timeout: float = DEFAULT_TIMEOUT) -> StoreError:
    """The StoreError to show for an SQLite error on the store at `path`."""
    where = safe_text(path, 300)
    folder = safe_text(Path(path).parent, 300)
    text = safe_text(exc, 200)
    code = primary_code(exc)
    if code == SQLITE_IOERR and _nearly_full(Path(path).parent):  # a write into the WAL that found no room
        code = SQLITE_FULL
    if code == SQLITE_FULL:
        return StoreFault(f"{where}: the disk holding {folder} is full (or the store hit its size limit): free "
                          f"space there and run the command again; {KEPT}")
    if code == SQLITE_IOERR:
        return StoreFault(f"{where}: the disk failed to read or write the store (SQLite: {text}): check the disk "
                          f"(df, dmesg) and run the command again; {KEPT}")
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return StoreBusyError(f"{where}: another process holds the store's lock and kept it past the {timeout:g} s "
                              f"wait (${TIMEOUT_VAR} sets it): run the command again once that process is done "
                              f"(`fuser {where}` names it); {KEPT}")
    if code == SQLITE_READONLY:
        return StoreReadOnlyError(f"{where}: the store is read-only here (no write permission on the file or on "
                                  f"its folder {folder}): listing, showing and exporting work; this command "
                                  "must write to it")
    if code == SQLITE_CANTOPEN:
        return StoreError(f"{where}: cannot open the store (SQLite: {text}): check that the file and its folder "
                          "exist and that you may read them")
    if code == SQLITE_NOTADB:
        return StoreError(f"{where}: not a tunedeck store (not an SQLite database)")
    if code == SQLITE_CORRUPT:
        return StoreError(f"{where}: the store is damaged (SQLite: {text}); copy it aside and try "
                          "`sqlite3 FILE .recover`")
    return StoreError(f"{where}: {text}")


# The last fault each store raised in this process (by path), whichever `Store` object met it: a sweep
# asks whether a trial that failed or was cancelled met one while it ran, so its reason can say so.
_LAST: dict[str, tuple[float, StoreFault]] = {}


def note_fault(path: str, fault: StoreError) -> None:
    if isinstance(fault, StoreFault):
        _LAST[path] = (time.monotonic(), fault)


def fault_since(path: Path | str, since: float) -> StoreFault | None:
    """The store's last fault in this process if it came at or after `since` (time.monotonic())."""
    last = _LAST.get(str(path))
    return last[1] if last is not None and last[0] >= since else None


def set_wal(conn: sqlite3.Connection, wait: float = DEFAULT_TIMEOUT) -> str:
    """Switch to WAL, waiting while another process creates the same file: switching the journal mode
    needs the file to itself, and SQLite's busy timeout does not cover it (it says "locked" at once)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


__all__ = ["StoreFault", "busy_timeout", "fault_since", "note_fault", "set_wal", "store_error"]
