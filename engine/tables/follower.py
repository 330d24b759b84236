"""A live view of a store that any process may be writing: its trial rows, their frame, new metric rows.

The cockpit follows the store, not its own events, so a trial started by a `tunedeck run` in
another terminal, by the supervisor after a re-attach or by a sweep shows up and moves like one
started here. Each `poll` is cheap whatever the store's size: nothing is read unless someone
committed (`PRAGMA data_version`), then only the trial rows changed since the last poll (`rev`) and
the metric rows added since (`rowid`). The frame the trial table shows is patched with the changed
rows, never rebuilt from every trial.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from engine.states import TrialState
from engine.store import Store, TrialRecord
from engine.store.changes import MetricRow
from engine.tables.frames import trial_frame

METRIC_ROWS_PER_POLL = 50_000  # a poll after a long pause catches up over several ticks, not in one stall


@dataclass
class Update:
    """What changed since the previous poll."""

    trials: list[TrialRecord] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    more: bool = False  # more metric rows wait than one poll takes

    def __bool__(self) -> bool:
        return bool(self.trials or self.metrics)


class StoreFollower:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.records: dict[int, TrialRecord] = {}
        self._rev = 0
        self._rowid = store.last_metric_row()  # history before now is read per trial, when it is shown
        self._version: int | None = None
        self._frame: pl.DataFrame | None = None
        self._stale: dict[int, TrialRecord] = {}  # changed rows not yet patched into the frame
        self._unfinished: dict[int, TrialState] = {}  # asked every tick: never scan every record for it
        self._row_of: dict[int, int] = {}  # trial id -> its row in the frame
        self._force = True

    def nudge(self) -> None:
        """This process wrote to the store itself (its own commits do not change its data_version)."""
        self._force = True

    def poll(self) -> Update:
        version = self.store.data_version()
        if version == self._version and not self._force:
            return Update()
        self._version, self._force = version, False
        changed, self._rev = self.store.trials_changed(self._rev)
        for record in changed:
            self.records[record.id] = record
            self._stale[record.id] = record
            if record.state.is_finished:
                self._unfinished.pop(record.id, None)
            else:
                self._unfinished[record.id] = record.state
        metrics, self._rowid = self.store.metrics_since(self._rowid, METRIC_ROWS_PER_POLL)
        more = len(metrics) == METRIC_ROWS_PER_POLL
        if more:
            self._force = True
        return Update(changed, metrics, more)

    # --- questions ------------------------------------------------------------------------------

    def in_state(self, state: TrialState) -> list[int]:
        if not state.is_finished:
            return sorted(t for t, s in self._unfinished.items() if s is state)
        return sorted(t for t, r in self.records.items() if r.state is state)

    def get(self, trial_id: int) -> TrialRecord | None:
        return self.records.get(trial_id)

    @property
    def frame(self) -> pl.DataFrame:
        """Every trial as the table shows it, patched with the rows changed since the last call: changed
        rows are written over in place, new ones (always the newest ids) appended; nothing is re-sorted.
        A changed row that brings a param column the frame lacks rebuilds the frame with it."""
        if self._frame is None:
            self._rebuild()
        elif self._stale:
            known = sorted(t for t in self._stale if t in self._row_of)
            new = sorted(t for t in self._stale if t not in self._row_of)
            frame = self._frame
            patch = trial_frame([self._stale[t] for t in known]) if known else None
            added = trial_frame([self._stale[t] for t in new]) if new else None
            if any(p is not None and not set(p.columns) <= set(frame.columns) for p in (patch, added)):
                self._rebuild()
            else:
                if patch is not None:
                    patch = _conform(patch, frame.schema)
                    rows = [self._row_of[t] for t in known]
                    frame = frame.with_columns(frame.get_column(name).scatter(rows, patch.get_column(name))
                                               for name in frame.columns)
                if added is not None:
                    start = frame.height
                    frame = pl.concat([frame, _conform(added, frame.schema)])
                    self._row_of.update({t: start + i for i, t in enumerate(new)})
                    if start and new[0] < frame["id"][start - 1]:
                        frame = frame.sort("id")  # an id older than the newest row: rare, and rebuilt in order
                        self._row_of = {t: i for i, t in enumerate(frame["id"].to_list())}
                self._frame = frame
        self._stale.clear()
        assert self._frame is not None
        return self._frame

    def _rebuild(self) -> None:
        self._frame = trial_frame([self.records[t] for t in sorted(self.records)])
        self._row_of = {t: i for i, t in enumerate(self._frame["id"].to_list())}

    @property
    def frame_stale(self) -> bool:
        return self._frame is None or bool(self._stale)


def _conform(part: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """`part` with the frame's columns, in its order and types: a param column it lacks is null."""
    return part.select(pl.col(name).cast(dtype, strict=False) if name in part.columns else
                       pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items())
