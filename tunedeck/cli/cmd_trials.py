"""`tunedeck trials`: the trial table, sorted and filtered like the TUI's, fitted to the terminal.

By default the table shows what a comparison is about: the knobs that differ between the listed
trials and the key results, as many as fit the terminal's width (a row is never wrapped); what is
left out is named in one line under the table (on stderr). `--columns wide` prints that selection whole,
`--columns all` every column of the trial table, `--columns A,B` exactly those.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from typing import Any

import polars as pl

from engine.errors import ConfigError
from engine.events import SUMMARY_COLUMNS
from engine.metric_names import BEST_VAL_LOSS, MAX_VAL_ACC, SUMMARY_SHOWN, VAL_ACC_AT_BEST, column_hint
from engine.tables.formatting import column_widths, fit_columns, render_table, safe_text
from engine.tables.frames import select_trials, trial_frame, varying_columns
from tunedeck.cli.storeopen import open_store

LEAD = ["id", "name", "state", "task"]
METRICS = [*SUMMARY_SHOWN, *(name for name in SUMMARY_COLUMNS if name not in (*SUMMARY_SHOWN, "steps")), "duration_s"]
WIDE = "wide"  # --columns wide: the default selection, not fitted
ALL = "all"  # --columns all: every column of the trial table
DEFAULT_WIDTH = 100  # when stdout is no terminal and $COLUMNS is unset
MAX_TEXT = 32  # a fitted table clips longer text cells (names, list knobs) with an ellipsis
# What is kept first when the terminal is too narrow for everything: which trial, how it ended and its
# main results, then the knobs that differ, then the rest.
KEY_COLUMNS = ["id", "state", "epochs_run", BEST_VAL_LOSS, VAL_ACC_AT_BEST, "duration_s"]
LESSER_COLUMNS = ["name", "task", MAX_VAL_ACC, "test_loss", "test_acc", "best_epoch"]


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        if args.sweep is not None:
            store.sweep(args.sweep)  # an unknown sweep id is a clear error, not an empty table
        frame = trial_frame(store.trials(sweep_id=args.sweep))
    shown = select_trials(frame, state=args.state, sort=args.sort, desc=args.desc, limit=args.limit)
    asked = [c.strip() for c in (args.columns or "").split(",") if c.strip()]
    _check_columns(asked, frame)
    if shown.height == 0:
        print("no trials" + (" in state " + ", ".join(args.state) if args.state else ""))
        return 0
    if not asked:
        table, note = fitted_table(shown, args.sort, terminal_width())
        print(table, flush=True)
        if note:
            print(note, file=sys.stderr)  # stdout stays the table alone, for whatever reads it
        return 0
    if asked == [ALL]:
        asked = list(frame.columns)
    elif asked == [WIDE]:
        asked = LEAD + varying_columns(shown) + METRICS
    print(render_table(asked, shown.select(asked).rows()))
    return 0


def _check_columns(columns: list[str], frame: pl.DataFrame) -> None:
    if columns in ([ALL], [WIDE]):
        return
    for column in columns:
        if column not in frame.columns:
            raise ConfigError("unknown column" + column_hint(column, frame.columns)
                              + f"; besides column names it takes `{WIDE}` or `{ALL}`",
                              key="--columns", value=column)


def terminal_width() -> int:
    """The terminal's width; $COLUMNS when set; else a width that reads well in a file or a pager."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def default_columns(frame: pl.DataFrame, sort: str | None = None) -> tuple[list[str], list[str]]:
    """The default table's columns in display order, and the same columns from most to least wanted.

    Results that no listed trial has (accuracy of a regression, say) are left out, and so is the task
    when every trial shares it; the knobs that differ are what the listing compares.
    """
    knobs = varying_columns(frame)
    display = [c for c in LEAD + knobs + METRICS if _informative(frame, c)]
    if sort is not None and sort not in display:
        display.append(sort)  # a sort by a column nobody would see otherwise still shows its values
    wanted = [c for c in KEY_COLUMNS if c in display]
    if sort is not None:
        wanted.append(sort)
    wanted += knobs + [c for c in LESSER_COLUMNS if c in display]
    return display, [c for c in dict.fromkeys(wanted) if c in display]


def _informative(frame: pl.DataFrame, column: str) -> bool:
    if column in ("id", "name", "state"):
        return True
    if column == "task":
        return frame.height == 1 or frame[column].n_unique() > 1
    return frame[column].null_count() < frame.height


def fitted_table(frame: pl.DataFrame, sort: str | None, width: int) -> tuple[str, str | None]:
    """The default table at most `width` characters wide, and a line naming what it left out (or None)."""
    display, wanted = default_columns(frame, sort)
    rows = [[_clip(v) for v in row] for row in frame.select(display).rows()]
    widths = column_widths(display, rows)
    keep = fit_columns(widths, [display.index(c) for c in wanted], width)
    table = render_table([display[i] for i in keep], [[row[i] for i in keep] for row in rows])
    dropped = [c for i, c in enumerate(display) if i not in keep]
    return table, _left_out_note(dropped, width) if dropped else None


def _clip(value: Any) -> Any:
    if isinstance(value, str):
        value = safe_text(value)  # escaped first: an escape counts for the characters it prints
        if len(value) > MAX_TEXT:
            return value[:MAX_TEXT - 3] + "..."
    return value


def _left_out_note(dropped: Sequence[str], width: int) -> str:
    """The longest of three ways to say it that fits the width (the shortest when none does)."""
    count = f"{len(dropped)} more column{'s' if len(dropped) > 1 else ''}"
    notes = [f"({count}: {safe_text(', '.join(dropped))}; --columns {WIDE} shows them)",
             f"({count} did not fit in {width} characters; --columns {WIDE} shows them)",
             f"({count}: --columns {WIDE})"]
    return next((note for note in notes if len(note) <= width), notes[-1])
