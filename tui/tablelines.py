"""How one line of the trial table is drawn: the mark gutter, the fixed id column, the horizontally scrolled rest.

The widget hands over cell text (from `tui.tablemodel`) and its styles; these functions only place the
cells, so the geometry (which column a click hits, where the fixed part ends) lives in one place.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from engine.events import TrialState
from engine.tables.formatting import safe_text
from tui.tablemodel import Column, fit

SELECTED_MARK = "●"
CURSOR_MARK = "▸"
GUTTER = 2
GAP = 2
FIXED_COLUMNS = 1
ASCENDING_MARK = "▲"
DESCENDING_MARK = "▼"

STATE_COMPONENTS: dict[str, str] = {s.value: f"trial-table--state-{s.value}" for s in TrialState}


def fixed_width(columns: Sequence[Column]) -> int:
    """Width of what never scrolls sideways: the gutter and the fixed columns with their gaps."""
    return GUTTER + sum(c.width + GAP for c in columns[:FIXED_COLUMNS])


def scroll_width(columns: Sequence[Column]) -> int:
    """Width of the columns that scroll sideways."""
    return max(0, sum(c.width + GAP for c in columns[FIXED_COLUMNS:]) - GAP)


def column_at(columns: Sequence[Column], x: int, scroll_x: int) -> Column | None:
    """The column under screen column `x` (None: the gutter or past the last column)."""
    if x < GUTTER:
        return None
    left = GUTTER
    for column in columns[:FIXED_COLUMNS]:
        if x < left + column.width + GAP:
            return column
        left += column.width + GAP
    x = x - fixed_width(columns) + scroll_x
    left = 0
    for column in columns[FIXED_COLUMNS:]:
        if left <= x < left + column.width + GAP:
            return column
        left += column.width + GAP
    return None


def assemble(columns: Sequence[Column], gutter: list[Segment], cells: list[Segment], width: int, scroll_x: int,
             style: Style) -> Strip:
    """Gutter and id stay put; the other columns move with the horizontal scroll."""
    gap = Segment(" " * GAP, style)
    fixed = list(gutter)
    for cell in cells[:FIXED_COLUMNS]:
        fixed += [cell, gap]
    scrolled: list[Segment] = []
    for index, cell in enumerate(cells[FIXED_COLUMNS:]):
        scrolled += [gap, cell] if index else [cell]
    fixed_part = fixed_width(columns)
    fixed_strip = Strip(fixed).crop_extend(0, min(width, fixed_part), style)
    rest = max(0, width - fixed_part)
    return Strip.join([fixed_strip, Strip(scrolled).crop_extend(scroll_x, scroll_x + rest, style)]).simplify()


def header_strip(columns: Sequence[Column], sort_column: str | None, descending: bool, width: int, scroll_x: int,
                 style: Style) -> Strip:
    """The labels, the sorted column's with an arrow for its direction."""
    arrow = DESCENDING_MARK if descending else ASCENDING_MARK
    cells = []
    for column in columns:
        label = safe_text(column.label) + (arrow if column.key == sort_column else "")
        cells.append(Segment(fit(label, column.width, column.right_aligned), style))
    return assemble(columns, [Segment(" " * GUTTER, style)], cells, width, scroll_x, style)


def hint_strip(hint: str, width: int, style: Style) -> Strip:
    """A line of text in place of rows (an empty table says why it is empty)."""
    return Strip([Segment(fit(" " * GUTTER + safe_text(hint), width), style)], width)


def row_strip(columns: Sequence[Column], texts: Sequence[str], selected: bool, width: int, scroll_x: int,
              style: Style, ink: Callable[[str], Style], cursor: bool = False) -> Strip:
    """One trial's cells on `style`, its marks in the gutter (selected, and the cursor's row in plain text,
    not only in colour); `ink` gives a component's colour (mark, state). A cell's text is shown through
    `safe_text`: a trial named with terminal escapes shows them, it does not run them."""
    mark = style + ink("trial-table--selected")
    gutter = [Segment(SELECTED_MARK if selected else " ", mark), Segment(CURSOR_MARK if cursor else " ", style),
              Segment(" " * (GUTTER - 2), style)]
    cells = []
    for column, text in zip(columns, texts):
        cell_style = style
        if column.key == "state" and text in STATE_COMPONENTS:
            cell_style = style + ink(STATE_COMPONENTS[text])
        shown = safe_text(text, 4 * column.width + 8)  # what is past the width is cut anyway
        cells.append(Segment(fit(shown, column.width, column.right_aligned), cell_style))
    return assemble(columns, gutter, cells, width, scroll_x, style)
