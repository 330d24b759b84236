"""The trial table: every trial in the store, sortable and filterable, drawn one screen at a time.

Textual's DataTable builds every row up front (about 2 s at 10k rows, again after each sort), so
this widget keeps the engine's Polars frame, lets `engine.tables.frames.select_trials` order and filter it,
and formats only the rows that are on screen. Live updates replace the whole frame several times a
second; the cursor follows its trial rather than its row number.

What it holds (frame, order, filter, marks, cursor) is `tui.tablestate.TableState`; how a line is laid out
is `tui.tablelines`; what each cell says is `tui.tablemodel`. The widget keeps scrolling, keys, mouse,
the formatted window of rows and its messages.
"""
from __future__ import annotations

from typing import ClassVar

import polars as pl
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.events import TrialState
from tui.tablelines import GAP as GAP  # re-exported: the tests measure the drawn lines with it
from tui.tablelines import GUTTER, column_at, fixed_width, header_strip, hint_strip, row_strip, scroll_width
from tui.tablelines import SELECTED_MARK as SELECTED_MARK
from tui.tablemodel import Column, choose_columns, format_rows, layout_columns, next_filter, next_sort, states_present
from tui.tablestate import TableState


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
        self._state = TableState()
        self._columns: tuple[Column, ...] = ()
        self._highlighted: int | None = None
        self._window: dict[int, tuple[str, ...]] = {}
        self._layout(self._state.frame)

    @property
    def sort_column(self) -> str | None:
        return self._state.sort_column

    @property
    def descending(self) -> bool:
        return self._state.descending

    @property
    def state_filter(self) -> str | None:
        return self._state.state_filter

    @property
    def selected_ids(self) -> tuple[int, ...]:
        return self._state.selected_ids

    @property
    def columns(self) -> tuple[Column, ...]:
        """The displayed columns, in screen order."""
        return self._columns

    @property
    def cursor_row(self) -> int:
        """The cursor's position in `current_view()`."""
        return self._state.cursor

    @property
    def cursor_trial_id(self) -> int | None:
        return self._state.cursor_trial_id

    def current_view(self) -> pl.DataFrame:
        """All columns of the trials shown, filtered and ordered as on screen (what export writes)."""
        return self._state.view

    def set_frame(self, frame: pl.DataFrame) -> None:
        """Show a new snapshot of the trials, keeping the cursor on its trial and on its screen line."""
        cursor, top = self._state.cursor, self._top_row
        line = cursor - top if top <= cursor < top + self._visible_rows else None
        marks_dropped = self._state.replace_frame(frame)
        self._layout(frame)
        self._window.clear()
        if line is not None:
            self.scroll_to(y=self._state.cursor - line, animate=False, force=True)
        self._scroll_to_cursor()
        self.refresh()
        if marks_dropped:
            self.post_message(self.SelectionChanged(self, self.selected_ids))
        self._announce_highlight()

    def sort_by(self, column: str | None, descending: bool | None = None) -> None:
        """Order by `column` (None: the frame's own order); the view starts again at the top.

        An unknown column raises the engine's ConfigError and leaves the table as it was.
        """
        desc = self._state.sort(column, descending)
        self._restart()
        self.post_message(self.SortChanged(self, column, desc))

    def set_state_filter(self, state: str | None) -> None:
        """Show only trials in `state` (None: all); the view starts again at the top."""
        self._state.filter(state)
        self._restart()
        self.post_message(self.FilterChanged(self, state))

    def clear_selection(self) -> None:
        if self._state.selected:
            self._state.selected.clear()
            self.refresh()
            self.post_message(self.SelectionChanged(self, ()))

    def move_to_trial(self, trial_id: int) -> bool:
        """Put the cursor on a trial if it is shown; False when it is filtered out or unknown."""
        index = self._state.index_of(trial_id)
        if index is None:
            return False
        self._move_cursor(index)
        return True

    def _layout(self, frame: pl.DataFrame) -> None:
        self._columns = layout_columns(frame, choose_columns(frame))
        width = fixed_width(self._columns) + scroll_width(self._columns)
        self.virtual_size = Size(width, self._state.view.height + 1)

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

    def _restart(self) -> None:
        self.virtual_size = Size(self.virtual_size.width, self._state.view.height + 1)
        self._state.cursor = 0
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
        cursor, top, visible = self._state.cursor, self._top_row, self._visible_rows
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, force=True)
        elif cursor >= top + visible:
            self.scroll_to(y=cursor - visible + 1, animate=False, force=True)

    def _move_cursor(self, row: int) -> None:
        if self._state.view.height == 0:
            return
        old, self._state.cursor = self._state.cursor, self._state.clamp(row)
        self.refresh_line(old + 1)
        self.refresh_line(self._state.cursor + 1)
        self._scroll_to_cursor()
        self._announce_highlight()

    def on_resize(self, event: events.Resize) -> None:
        self._window.clear()
        self._scroll_to_cursor()

    def action_cursor_up(self) -> None:
        self._move_cursor(self._state.cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self._state.cursor + 1)

    def action_cursor_page_up(self) -> None:
        self.scroll_to(y=self._top_row - self._visible_rows, animate=False, force=True)
        self._move_cursor(self._state.cursor - self._visible_rows)

    def action_cursor_page_down(self) -> None:
        self.scroll_to(y=self._top_row + self._visible_rows, animate=False, force=True)
        self._move_cursor(self._state.cursor + self._visible_rows)

    def action_cursor_first(self) -> None:
        self._move_cursor(0)

    def action_cursor_last(self) -> None:
        self._move_cursor(self._state.view.height - 1)

    def _sort_keys(self) -> list[str]:
        return [c.key for c in self._columns]

    def action_sort_next(self) -> None:
        self.sort_by(next_sort(self._sort_keys(), self._state.sort_column, 1))

    def action_sort_previous(self) -> None:
        self.sort_by(next_sort(self._sort_keys(), self._state.sort_column, -1))

    def action_reverse_sort(self) -> None:
        self.sort_by(self._state.sort_column, not self._state.descending)

    def action_cycle_filter(self) -> None:
        self.set_state_filter(next_filter(states_present(self._state.frame), self._state.state_filter))

    def action_toggle_selection(self) -> None:
        trial_id = self.cursor_trial_id
        if trial_id is None:
            return
        self._state.toggle(trial_id)
        self.refresh_line(self._state.cursor + 1)
        self.post_message(self.SelectionChanged(self, self.selected_ids))

    def action_open_trial(self) -> None:
        trial_id = self.cursor_trial_id
        if trial_id is not None:
            self.post_message(self.OpenRequested(self, trial_id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = column_at(self._columns, offset.x, int(self.scroll_offset.x))
            if column is not None:
                same = column.key == self._state.sort_column
                self.sort_by(column.key, not self._state.descending if same else None)
            return
        row = self._top_row + offset.y - 1
        if row >= self._state.view.height:
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
        view = self._state.view
        top, count = self._top_row, self._drawn_rows
        start = top if top <= row < top + count else row
        stop = min(view.height, start + count)
        keys = [c.key for c in self._columns]
        chunk = view.slice(start, stop - start).select(keys).rows()
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
        scroll_x = int(self.scroll_offset.x)
        state = self._state
        if y == 0:
            style = base + self._style("trial-table--header")
            return header_strip(self._columns, state.sort_column, state.descending, width, scroll_x, style)
        row = self._top_row + y - 1
        if state.view.height == 0:
            if y != 1:
                return Strip.blank(width, base)
            hint = "no trials yet" if state.state_filter is None else f"no {state.state_filter} trials"
            return hint_strip(hint, width, base + self._style("trial-table--hint"))
        if row >= state.view.height:
            return Strip.blank(width, base)
        style = base + self._style("trial-table--cursor") if row == state.cursor else base
        return row_strip(self._columns, self._cells(row), state.is_selected(row), width, scroll_x, style, self._ink,
                         cursor=row == state.cursor)
