"""Reading a store's metrics: the long history Polars pivots, a trial's epochs, the count of trials."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from engine.store.schema import EPOCH_METRICS


class MetricReads:
    """Mixed into `Store`: it supplies `_read`."""

    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def history(self, trial_ids: list[int] | None = None, *,
                metric: str | None = None) -> list[tuple[int, int, int, str, float | None]]:
        """Every logged metric (or one) as (trial_id, epoch, step, metric, value), the long form Polars pivots."""
        query = "SELECT trial_id, epoch, step, metric, value FROM metrics"
        where: list[str] = []
        params: list[int | str] = []
        if trial_ids is not None:
            if not trial_ids:
                return []
            params = [int(t) for t in trial_ids]
            where.append(f"trial_id IN ({', '.join('?' * len(params))})")
        if metric is not None:
            where.append("metric = ?")
            params.append(metric)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY trial_id, step, metric, epoch, rowid"
        with self._read() as conn:
            return [tuple(row) for row in conn.execute(query, params).fetchall()]

    def epochs(self, trial_id: int) -> list[dict[str, Any]]:
        """One dict per committed epoch, the shape the detail view and the CLI print."""
        marks = ", ".join("?" * len(EPOCH_METRICS))
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT epoch, step, metric, value FROM metrics WHERE trial_id = ? AND metric IN ({marks}) "
                "ORDER BY epoch, rowid", (trial_id, *EPOCH_METRICS)).fetchall()
        out: dict[int, dict[str, Any]] = {}
        for epoch, step, metric, value in rows:
            entry = out.setdefault(epoch, {"epoch": epoch, "step": step, **{m: None for m in EPOCH_METRICS}})
            entry[metric] = value
        return list(out.values())

    def count(self) -> int:
        """How many trials there are, without reading them (for status lines)."""
        with self._read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
