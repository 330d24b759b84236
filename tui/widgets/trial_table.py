"""The trial table: every trial in the store, sortable and filterable, drawn one screen at a time.

Textual's DataTable builds every row up front (about 2 s at 10k rows, again after each sort), so
this widget keeps the engine's Polars frame, lets `engine.tables.frames.select_trials` order and filter it,
and formats only the rows that are on screen. Live updates replace the whole frame several times a
second; the cursor follows its trial rather than its row number.
"""
from __future__ import annotations

from typing import ClassVar

import polars as pl
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.events import TrialState
from engine.tables.frames import TRIAL_SCHEMA, select_trials
from tui.tablemodel import (
    Column, choose_columns, fit, format_rows, layout_columns, next_filter, next_sort, states_present,
)

SELECTED_MARK = "●"
GUTTER = 2
GAP = 2
FIXED_COLUMNS = 1
ASCENDING_MARK = "▲"
DESCENDING_MARK = "▼"


class _TableMessage(Message):
    """What every message of the table carries: the table, also as `control` for `@on` selectors."""

    def __init__(self, trial_table: TrialTable) -> None:
        super().__init__()
        self.trial_table = trial_table

    @property
    def control(self) -> TrialTable:
        return self.trial_table


class TrialTable(ScrollView, can_focus=True):
    """A focusable, virtual table of trials: header fixed on top, id column fixed on the left."""

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "cursor_page_up", "Page up", show=False),
        Binding("pagedown", "cursor_page_down", "Page down", show=False),
        Binding("home", "cursor_first", "First", show=False),
        Binding("end", "cursor_last", "Last", show=False),
        Binding("s", "sort_next", "Sort"),
        Binding("S,shift+s", "sort_previous", "Sort back", show=False),
        Binding("r", "reverse_sort", "Reverse"),
        Binding("f", "cycle_filter", "Filter"),
        Binding("space", "toggle_selection", "Select"),
        Binding("enter", "open_trial", "Details"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trial-table--header",
        "trial-table--cursor",
        "trial-table--selected",
        "trial-table--hint",
        *(f"trial-table--state-{s.value}" for s in TrialState),
    }

    DEFAULT_CSS = """
    TrialTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .trial-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .trial-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .trial-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .trial-table--selected { color: $accent; text-style: bold; }
        & > .trial-table--hint { color: $text-muted; text-style: italic; }
        & > .trial-table--state-queued { color: $text-muted; }
        & > .trial-table--state-running { color: $text-warning; }
        & > .trial-table--state-completed { color: $text-success; }
        & > .trial-table--state-early_stopped { color: #22b8cf; }
        & > .trial-table--state-pruned { color: #da77f2; }
        & > .trial-table--state-diverged { color: $text-error; text-style: bold; }
        & > .trial-table--state-failed { color: $text-error; text-style: bold; }
        & > .trial-table--state-cancelled { color: $error 75%; }
        & > .trial-table--state-interrupted { color: $error 75%; }
        &:light > .trial-table--state-early_stopped { color: #0b7285; }
        &:light > .trial-table--state-pruned { color: #862e9c; }
    }
    """

    class Highlighted(_TableMessage):
        """The cursor came to rest on another trial (the details pane follows it)."""

        def __init__(self, trial_table: TrialTable, trial_id: int) -> None:
            super().__init__(trial_table)
            self.trial_id = trial_id

    class SelectionChanged(_TableMessage):
        """The set of marked trials changed (compare and export act on it)."""

        def __init__(self, trial_table: TrialTable, trial_ids: tuple[int, ...]) -> None:
            super().__init__(trial_table)
            self.trial_ids = trial_ids

    class OpenRequested(_TableMessage):
        """The user asked to see one trial in full."""

        def __init__(self, trial_table: TrialTable, trial_id: int) -> None:
            super().__init__(trial_table)
            self.trial_id = trial_id

    class SortChanged(_TableMessage):
        """The order changed; a status line or a saved layout may want to know."""

        def __init__(self, trial_table: TrialTable, column: str | None, descending: bool) -> None:
            super().__init__(trial_table)
            self.column = column
            self.descending = descending

    class FilterChanged(_TableMessage):
        """Only trials in `state` are shown now (None: all of them)."""

        def __init__(self, trial_table: TrialTable, state: str | None) -> None:
            super().__init__(trial_table)
            self.state = state

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._frame: pl.DataFrame = pl.DataFrame(schema=TRIAL_SCHEMA)
        self._view: pl.DataFrame = self._frame
        self._columns: tuple[Column, ...] = ()
        self._sort_column: str | None = None
        self._descending = False
        self._state_filter: str | None = None
        self._selected: set[int] = set()
        self._cursor = 0
        self._highlighted: int | None = None
        self._window: dict[int, tuple[str, ...]] = {}
        self._layout(self._frame)

    @property
    def sort_column(self) -> str | None:
        return self._sort_column

    @property
    def descending(self) -> bool:
        return self._descending

    @property
    def state_filter(self) -> str | None:
        return self._state_filter

    @property
    def selected_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._selected))

    @property
    def columns(self) -> tuple[Column, ...]:
        """The displayed columns, in screen order."""
        return self._columns

    @property
    def cursor_row(self) -> int:
        """The cursor's position in `current_view()`."""
        return self._cursor

    @property
    def cursor_trial_id(self) -> int | None:
        if self._view.height == 0:
            return None
        return int(self._view["id"][self._cursor])

    def current_view(self) -> pl.DataFrame:
        """All columns of the trials shown, filtered and ordered as on screen (what export writes)."""
        return self._view

    def set_frame(self, frame: pl.DataFrame) -> None:
        """Show a new snapshot of the trials, keeping the cursor on its trial and on its screen line."""
        cursor_id = self.cursor_trial_id
        top = self._top_row
        line = self._cursor - top if top <= self._cursor < top + self._visible_rows else None
        view = self._select(frame, self._state_filter, self._sort_column, self._descending)
        self._frame = frame
        self._view = view
        self._layout(frame)
        known = self._known_ids(frame, self._selected)
        index = self._index_of(cursor_id)
        self._cursor = index if index is not None else self._clamp(self._cursor)
        self._window.clear()
        if line is not None:
            self.scroll_to(y=self._cursor - line, animate=False, force=True)
        self._scroll_to_cursor()
        self.refresh()
        if known != self._selected:
            self._selected = known
            self.post_message(self.SelectionChanged(self, self.selected_ids))
        self._announce_highlight()

    def sort_by(self, column: str | None, descending: bool | None = None) -> None:
        """Order by `column` (None: the frame's own order); the view starts again at the top.

        An unknown column raises the engine's ConfigError and leaves the table as it was.
        """
        desc = self._descending if descending is None else descending
        self._view = self._select(self._frame, self._state_filter, column, desc)
        self._sort_column = column
        self._descending = desc
        self._restart()
        self.post_message(self.SortChanged(self, column, desc))

    def set_state_filter(self, state: str | None) -> None:
        """Show only trials in `state` (None: all); the view starts again at the top."""
        self._view = self._select(self._frame, state, self._sort_column, self._descending)
        self._state_filter = state
        self._restart()
        self.post_message(self.FilterChanged(self, state))

    def clear_selection(self) -> None:
        if self._selected:
            self._selected.clear()
            self.refresh()
            self.post_message(self.SelectionChanged(self, ()))

    def move_to_trial(self, trial_id: int) -> bool:
        """Put the cursor on a trial if it is shown; False when it is filtered out or unknown."""
        index = self._index_of(trial_id)
        if index is None:
            return False
        self._move_cursor(index)
        return True

    @staticmethod
    def _known_ids(frame: pl.DataFrame, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        return set(frame.filter(pl.col("id").is_in(list(ids)))["id"].to_list())

    @staticmethod
    def _select(frame: pl.DataFrame, state: str | None, sort: str | None, desc: bool) -> pl.DataFrame:
        return select_trials(frame, state=state, sort=sort, desc=desc)

    def _layout(self, frame: pl.DataFrame) -> None:
        self._columns = layout_columns(frame, choose_columns(frame))
        self.virtual_size = Size(self._fixed_width + self._scroll_width, self._view.height + 1)

    @property
    def _fixed_width(self) -> int:
        return GUTTER + sum(c.width + GAP for c in self._columns[:FIXED_COLUMNS])

    @property
    def _scroll_width(self) -> int:
        return max(0, sum(c.width + GAP for c in self._columns[FIXED_COLUMNS:]) - GAP)

    @property
    def _viewport(self) -> Size:
        return self.scrollable_content_region.size

    @property
    def _visible_rows(self) -> int:
        """Rows the user can see: what paging moves by and what the cursor is kept within."""
        return max(1, self._viewport.height - 1)

    @property
    def _drawn_rows(self) -> int:
        """Rows Textual asks for, including any a scrollbar covers: the formatted window's size."""
        return max(1, self.size.height - 1)

    @property
    def _top_row(self) -> int:
        return int(self.scroll_offset.y)

    def _clamp(self, row: int) -> int:
        return max(0, min(row, self._view.height - 1))

    def _index_of(self, trial_id: int | None) -> int | None:
        if trial_id is None or self._view.height == 0:
            return None
        hits = (self._view["id"] == trial_id).arg_true()
        return int(hits[0]) if hits.len() else None

    def _restart(self) -> None:
        self.virtual_size = Size(self.virtual_size.width, self._view.height + 1)
        self._cursor = 0
        self._window.clear()
        self.scroll_to(y=0, animate=False, force=True)
        self.refresh()
        self._announce_highlight()

    def _announce_highlight(self) -> None:
        trial_id = self.cursor_trial_id
        if trial_id != self._highlighted:
            self._highlighted = trial_id
            if trial_id is not None:
                self.post_message(self.Highlighted(self, trial_id))

    def _scroll_to_cursor(self) -> None:
        top, visible = self._top_row, self._visible_rows
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + visible:
            self.scroll_to(y=self._cursor - visible + 1, animate=False, force=True)

    def _move_cursor(self, row: int) -> None:
        if self._view.height == 0:
            return
        old, self._cursor = self._cursor, self._clamp(row)
        self.refresh_line(old + 1)
        self.refresh_line(self._cursor + 1)
        self._scroll_to_cursor()
        self._announce_highlight()

    def on_resize(self, event: events.Resize) -> None:
        self._window.clear()
        self._scroll_to_cursor()

    def action_cursor_up(self) -> None:
        self._move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self._cursor + 1)

    def action_cursor_page_up(self) -> None:
        self.scroll_to(y=self._top_row - self._visible_rows, animate=False, force=True)
        self._move_cursor(self._cursor - self._visible_rows)

    def action_cursor_page_down(self) -> None:
        self.scroll_to(y=self._top_row + self._visible_rows, animate=False, force=True)
        self._move_cursor(self._cursor + self._visible_rows)

    def action_cursor_first(self) -> None:
        self._move_cursor(0)

    def action_cursor_last(self) -> None:
        self._move_cursor(self._view.height - 1)

    def _sort_keys(self) -> list[str]:
        return [c.key for c in self._columns]

    def action_sort_next(self) -> None:
        self.sort_by(next_sort(self._sort_keys(), self._sort_column, 1))

    def action_sort_previous(self) -> None:
        self.sort_by(next_sort(self._sort_keys(), self._sort_column, -1))

    def action_reverse_sort(self) -> None:
        self.sort_by(self._sort_column, not self._descending)

    def action_cycle_filter(self) -> None:
        self.set_state_filter(next_filter(states_present(self._frame), self._state_filter))

    def action_toggle_selection(self) -> None:
        trial_id = self.cursor_trial_id
        if trial_id is None:
            return
        self._selected ^= {trial_id}
        self.refresh_line(self._cursor + 1)
        self.post_message(self.SelectionChanged(self, self.selected_ids))

    def action_open_trial(self) -> None:
        trial_id = self.cursor_trial_id
        if trial_id is not None:
            self.post_message(self.OpenRequested(self, trial_id))

    def _column_at(self, x: int) -> Column | None:
        if x < GUTTER:
            return None
        left = GUTTER
        for column in self._columns[:FIXED_COLUMNS]:
            if x < left + column.width + GAP:
                return column
            left += column.width + GAP
        x = x - self._fixed_width + int(self.scroll_offset.x)
        left = 0
        for column in self._columns[FIXED_COLUMNS:]:
            if left <= x < left + column.width + GAP:
                return column
            left += column.width + GAP
        return None

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x)
            if column is not None:
                same = column.key == self._sort_column
                self.sort_by(column.key, not self._descending if same else None)
            return
        row = self._top_row + offset.y - 1
        if row >= self._view.height:
            return
        self._move_cursor(row)
        if offset.x < GUTTER:
            self.action_toggle_selection()
        elif event.chain == 2:
            self.action_open_trial()

    def _cells(self, row: int) -> tuple[str, ...]:
        """Cell text for `row`, formatting the screenful around it at once and nothing more."""
        cells = self._window.get(row)
        if cells is not None:
            return cells
        top, count = self._top_row, self._drawn_rows
        start = top if top <= row < top + count else row
        stop = min(self._view.height, start + count)
        keys = [c.key for c in self._columns]
        chunk = self._view.slice(start, stop - start).select(keys).rows()
        self._window = dict(zip(range(start, stop), format_rows(chunk, [c.kind for c in self._columns])))
        return self._window[row]

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component)

    def _ink(self, component: str) -> Style:
        """A component's text colour and attributes only, so it can sit on the cursor's background.

        Taken from the full style because only that one has translucent colours blended in.
        """
        full = self.get_component_rich_style(component)
        return Style(color=full.color, bold=full.bold, dim=full.dim, italic=full.italic)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            return self._header_strip(width, base + self._style("trial-table--header"))
        row = self._top_row + y - 1
        if self._view.height == 0:
            if y != 1:
                return Strip.blank(width, base)
            hint = "no trials yet" if self._state_filter is None else f"no {self._state_filter} trials"
            text = fit(" " * GUTTER + hint, width)
            return Strip([Segment(text, base + self._style("trial-table--hint"))], width)
        if row >= self._view.height:
            return Strip.blank(width, base)
        return self._row_strip(row, width, base)

    def _assemble(self, gutter: list[Segment], cells: list[Segment], width: int, style: Style) -> Strip:
        """Gutter and id stay put; the other columns move with the horizontal scroll."""
        gap = Segment(" " * GAP, style)
        fixed = list(gutter)
        for cell in cells[:FIXED_COLUMNS]:
            fixed += [cell, gap]
        scrolled: list[Segment] = []
        for index, cell in enumerate(cells[FIXED_COLUMNS:]):
            scrolled += [gap, cell] if index else [cell]
        fixed_strip = Strip(fixed).crop_extend(0, min(width, self._fixed_width), style)
        x = int(self.scroll_offset.x)
        rest = max(0, width - self._fixed_width)
        return Strip.join([fixed_strip, Strip(scrolled).crop_extend(x, x + rest, style)]).simplify()

    def _header_strip(self, width: int, style: Style) -> Strip:
        arrow = DESCENDING_MARK if self._descending else ASCENDING_MARK
        cells = []
        for column in self._columns:
            label = column.label + arrow if column.key == self._sort_column else column.label
            cells.append(Segment(fit(label, column.width, column.right_aligned), style))
        return self._assemble([Segment(" " * GUTTER, style)], cells, width, style)

    def _row_strip(self, row: int, width: int, base: Style) -> Strip:
        style = base + self._style("trial-table--cursor") if row == self._cursor else base
        if int(self._view["id"][row]) in self._selected:
            mark = style + self._ink("trial-table--selected")
            gutter = [Segment(SELECTED_MARK, mark), Segment(" " * (GUTTER - 1), style)]
        else:
            gutter = [Segment(" " * GUTTER, style)]
        cells = []
        for column, text in zip(self._columns, self._cells(row)):
            cell_style = style
            if column.key == "state" and text in _STATE_COMPONENTS:
                cell_style = style + self._ink(_STATE_COMPONENTS[text])
            cells.append(Segment(fit(text, column.width, column.right_aligned), cell_style))
        return self._assemble(gutter, cells, width, style)


_STATE_COMPONENTS: dict[str, str] = {s.value: f"trial-table--state-{s.value}" for s in TrialState}
