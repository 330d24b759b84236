"""The trial table's mark for a trial on a multi-objective sweep's Pareto front: ◆ after its name.

The front is the one definition of engine.sweeps (SweepResults.front), read back from the store. Only
the sweeps of the table's rows are looked at: one with a single objective once, one with several on
each refresh (its row and counts), its front read again only when its ended trials change.
"""
from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from engine.errors import TunedeckError
from engine.store import Store
from engine.store.sweeps import SweepRecord
from engine.sweeps.results import load_results

MARK = " ◆"


def _multi(record: SweepRecord) -> bool:
    return isinstance(record.spec.get("metric"), list)


def _ended(record: SweepRecord) -> tuple:
    return record.state, tuple(sorted((s, n) for s, n in record.counts.items() if s not in ("queued", "running")))


class FrontMarks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._multi: dict[int, bool] = {}  # sweep id -> has several objectives (a sweep's spec never changes)
        self._fronts: dict[int, tuple[tuple, frozenset[int]]] = {}  # sweep id -> (its ended counts, front ids)

    def ids(self, sweep_ids: Iterable[int]) -> frozenset[int]:
        """Every trial on the front of one of these sweeps that has several objectives (the others cost
        nothing after their first look)."""
        out: set[int] = set()
        for sweep_id in sweep_ids:
            if self._multi.get(sweep_id) is False:
                continue
            try:
                record = self.store.sweep(sweep_id)
            except TunedeckError:  # a store hiccup: the marks as last read
                out |= self._fronts.get(sweep_id, ((), frozenset()))[1]
                continue
            self._multi[sweep_id] = _multi(record)
            if not self._multi[sweep_id]:
                continue
            mark = _ended(record)
            cached = self._fronts.get(sweep_id)
            if cached is None or cached[0] != mark:
                try:
                    front = frozenset(p.trial_id for p in load_results(self.store, sweep_id).front)
                except TunedeckError:  # a sweep from another version: no marks, nothing else lost
                    front = frozenset()
                cached = self._fronts[sweep_id] = (mark, front)
            out |= cached[1]
        return frozenset(out)

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The table's frame with ◆ after the name of each front trial (the frame itself when there is none)."""
        if not {"id", "name", "sweep_id"} <= set(frame.columns):
            return frame
        ids = self.ids(int(i) for i in frame["sweep_id"].drop_nulls().unique().to_list())
        if not ids:
            return frame
        on_front = pl.col("id").is_in(list(ids))
        return frame.with_columns(pl.when(on_front).then(pl.col("name").fill_null("") + MARK)
                                  .otherwise(pl.col("name")).alias("name"))
