"""Opening a store that may be read but not written (the file or its folder lacks write permission).

A WAL store read-only needs its -shm and -wal files: SQLite uses them when they exist (`mode=ro`), and
where they do not and the folder is read-only no one can create them, so no writer can be at work
either: the file is then opened as immutable (`immutable=1`), read as it stands. Such a store is read
as it is: no recovery marks a dead process's trials (that is a write); a reader is told so once.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from engine.errors import StoreError, safe_text


def _can_write(path: Path) -> bool:
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def read_only_reason(path: Path) -> str | None:
    """Why this process cannot write the store at `path` (None: it can, or the file does not exist)."""
    if not path.exists():
        return None
    if not _can_write(path):
        return f"no write permission on {safe_text(path, 300)}"
    sides = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    if not _can_write(path.parent) and not all(side.exists() and _can_write(side) for side in sides):
        return f"no write permission on its folder {safe_text(path.parent, 300)}"
    return None


def connect_read_only(path: Path, timeout: float) -> tuple[sqlite3.Connection, str]:
    """A read-only connection to `path` and how it was opened (said in the note the reader sees)."""
    uri = "file:" + quote(str(path.resolve()))
    failure: sqlite3.Error | None = None
    for query, how in (("?mode=ro", "read-only"), ("?mode=ro&immutable=1", "read-only, as it stands on disk")):
        try:
            conn = sqlite3.connect(uri + query, uri=True, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            failure = exc
            continue
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:  # WAL without -shm it may create: the immutable way next
            conn.close()
            failure = exc
            continue
        return conn, how
    raise StoreError(f"{safe_text(path, 300)}: cannot open the store even read-only (SQLite: {safe_text(failure, 200)})")
