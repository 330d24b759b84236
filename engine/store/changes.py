"""Following a store that other processes write: what changed since the last look, and nothing more.

A reader that shows the store live (the cockpit) asks three cheap questions per tick instead of
re-reading every trial: has anyone committed since (`PRAGMA data_version`, no I/O), which trial rows
changed (the table-wide `rev` counter, indexed), and which metric rows are new (`rowid` above the
last one seen). With 100,000 stored trials and four running, a tick reads the four rows that moved.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

from engine.store.schema import TrialRecord, record_from_row

MetricRow = tuple[int, int, int, str, "float | None"]  # trial_id, epoch, step, metric, value


class StoreChanges:
    """Mixed into `Store`: it supplies `_read` and `_where`."""

    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _where: str

    def data_version(self) -> int:
        """Changes whenever another connection commits to the file; free to ask (no disk read)."""
        with self._read() as conn:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def last_rev(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(rev), 0) FROM trials").fetchone()[0])

    def trials_changed(self, since_rev: int, limit: int | None = None) -> tuple[list[TrialRecord], int]:
        """Trials created or changed after `since_rev`, and the newest rev among them (or `since_rev`)."""
        query = "SELECT * FROM trials WHERE rev > ? ORDER BY rev"
        params: tuple[int, ...] = (since_rev,)
        if limit is not None:
            query += " LIMIT ?"
            params = (since_rev, limit)
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        if not rows:
            return [], since_rev
        return [record_from_row(row, self._where) for row in rows], max(row["rev"] for row in rows)

    def last_metric_row(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM metrics").fetchone()[0])

    def metrics_since(self, rowid: int, limit: int = 100_000) -> tuple[list[MetricRow], int]:
        """Metric rows committed after `rowid` (oldest first, at most `limit`), and the last rowid read."""
        with self._read() as conn:
            rows = conn.execute("SELECT rowid, trial_id, epoch, step, metric, value FROM metrics WHERE rowid > ? "
                                "ORDER BY rowid LIMIT ?", (rowid, limit)).fetchall()
        if not rows:
            return [], rowid
        return [tuple(row)[1:] for row in rows], rows[-1][0]
