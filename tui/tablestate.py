"""What the trial table holds, kept apart from the widget: the trials, their order and filter, the marks, the cursor.

Plain Polars and Python, no terminal: the widget asks it what is shown and where the cursor is, and keeps
only scrolling, drawing and messages for itself.
"""
from __future__ import annotations

import polars as pl

from engine.tables.frames import TRIAL_SCHEMA, select_trials


class TableState:
    """The trials a table holds, the view it shows of them (filtered, ordered), the marked trials, the cursor row."""

    def __init__(self) -> None:
        self.frame: pl.DataFrame = pl.DataFrame(schema=TRIAL_SCHEMA)
        self.view: pl.DataFrame = self.frame
        self.sort_column: str | None = None
        self.descending = False
        self.state_filter: str | None = None
        self.selected: set[int] = set()
        self.cursor = 0

    @property
    def selected_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self.selected))

    @property
    def cursor_trial_id(self) -> int | None:
        if self.view.height == 0:
            return None
        return int(self.view["id"][self.cursor])

    def replace_frame(self, frame: pl.DataFrame) -> bool:
        """Take a new snapshot in the same order and filter, the cursor on its trial (else on its row, clamped).

        Marks on trials the snapshot no longer has are dropped; True when that happened. An unknown sort
        column raises the engine's ConfigError and leaves everything as it was.
        """
        cursor_id = self.cursor_trial_id
        view = self.select(frame, self.state_filter, self.sort_column, self.descending)
        self.frame = frame
        self.view = view
        known = self.known_ids(frame, self.selected)
        index = self.index_of(cursor_id)
        self.cursor = index if index is not None else self.clamp(self.cursor)
        if known == self.selected:
            return False
        self.selected = known
        return True

    def sort(self, column: str | None, descending: bool | None) -> bool:
        """Order by `column` (None: the frame's own order) and return the direction used.

        `descending` None keeps the current direction. An unknown column raises the engine's ConfigError and
        leaves everything as it was. The cursor stays where it was; the widget starts the view again.
        """
        desc = self.descending if descending is None else descending
        self.view = self.select(self.frame, self.state_filter, column, desc)
        self.sort_column = column
        self.descending = desc
        return desc

    def filter(self, state: str | None) -> None:
        """Show only trials in `state` (None: all)."""
        self.view = self.select(self.frame, state, self.sort_column, self.descending)
        self.state_filter = state

    def toggle(self, trial_id: int) -> None:
        """Mark the trial, or unmark it if it was marked."""
        self.selected ^= {trial_id}

    def is_selected(self, row: int) -> bool:
        """Whether the trial on `row` of the view is marked."""
        return int(self.view["id"][row]) in self.selected

    def clamp(self, row: int) -> int:
        return max(0, min(row, self.view.height - 1))

    def index_of(self, trial_id: int | None) -> int | None:
        """The trial's row in the view; None when it is filtered out or unknown."""
        if trial_id is None or self.view.height == 0:
            return None
        hits = (self.view["id"] == trial_id).arg_true()
        return int(hits[0]) if hits.len() else None

    @staticmethod
    def known_ids(frame: pl.DataFrame, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        return set(frame.filter(pl.col("id").is_in(list(ids)))["id"].to_list())

    @staticmethod
    def select(frame: pl.DataFrame, state: str | None, sort: str | None, desc: bool) -> pl.DataFrame:
        return select_trials(frame, state=state, sort=sort, desc=desc)
