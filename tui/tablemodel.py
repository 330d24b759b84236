"""What the trial table shows and how each cell reads, kept apart from the widget.

Everything here is plain Python and Polars so the choices (which columns, how wide, how a number
is written, which column a key press sorts by next) can be tested without a terminal, and so the
widget only has to draw strings it is given.
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import polars as pl

from engine.events import TrialState
from engine.metric_names import BEST_VAL_LOSS, MAX_VAL_ACC, SHORT_LABELS, TEST_ACC, VAL_ACC_AT_BEST
from engine.tables.formatting import fmt_duration
from engine.tables.frames import varying_columns

Kind = Literal["int", "float", "bool", "str", "duration"]

LEAD_COLUMNS: tuple[str, ...] = ("id", "state", "name")
RESULT_COLUMNS: tuple[str, ...] = (BEST_VAL_LOSS, VAL_ACC_AT_BEST, MAX_VAL_ACC, TEST_ACC, "epochs_run", "duration_s")
LABELS: dict[str, str] = {**SHORT_LABELS, "duration_s": "duration"}
MAX_WIDTHS: dict[str, int] = {"name": 24}
DEFAULT_MAX_WIDTH = 16
NULL = "-"
ELLIPSIS = "…"
SORT_MARK_WIDTH = 1

_T = TypeVar("_T")


@dataclass(frozen=True)
class Column:
    """One displayed column: the frame column it reads, its header and its fixed width."""

    key: str
    label: str
    width: int
    kind: Kind

    @property
    def right_aligned(self) -> bool:
        """Numbers line up on their last digit so magnitudes can be compared at a glance."""
        return self.kind in ("int", "float", "duration")


def choose_columns(frame: pl.DataFrame) -> list[str]:
    """Identity first, then only the knobs that differ (what a comparison is about), then results."""
    knobs = varying_columns(frame)
    keys = [*LEAD_COLUMNS, *knobs, *RESULT_COLUMNS]
    return [key for key in keys if key in frame.columns]


def column_kind(key: str, dtype: pl.DataType) -> Kind:
    if key == "duration_s":
        return "duration"
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    return "str"


def header_labels(keys: Sequence[str]) -> dict[str, str]:
    """Knobs read by their last part (`lr`, not `optim.lr`) unless that would be ambiguous."""
    short = {key: LABELS.get(key, key.rsplit(".", 1)[-1]) for key in keys}
    counts: dict[str, int] = {}
    for label in short.values():
        counts[label] = counts.get(label, 0) + 1
    return {key: (label if counts[label] == 1 else key) for key, label in short.items()}


def format_float(value: float) -> str:
    """Four significant digits: 0.001 stays 0.001 and 1e-5 stays visible, unlike fixed decimals."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return format_float(seconds)
    return fmt_duration(seconds)


def format_value(value: Any, kind: Kind) -> str:
    if value is None:
        return NULL
    if kind == "float":
        return format_float(float(value))
    if kind == "duration":
        return format_duration(float(value))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int":
        return str(value)
    return " ".join(str(value).split())


def format_rows(rows: Sequence[Sequence[Any]], kinds: Sequence[Kind]) -> list[tuple[str, ...]]:
    """Cell text for a window of rows; the widget calls this only for rows on screen."""
    return [tuple(format_value(value, kind) for value, kind in zip(row, kinds)) for row in rows]


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell_width(text: str) -> int:
    """Terminal cells a string takes, so wide characters in a name do not break the alignment."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def fit(text: str, width: int, right: bool = False) -> str:
    """Exactly `width` cells: padded, or cut with an ellipsis so a cut is never mistaken for data."""
    if width <= 0:
        return ""
    used = cell_width(text)
    if used > width:
        kept: list[str] = []
        used = 0
        for char in text:
            w = _char_width(char)
            if used + w > width - 1:
                break
            kept.append(char)
            used += w
        text = "".join(kept) + ELLIPSIS
        used += 1
    pad = " " * (width - used)
    return pad + text if right else text + pad


def _float_width(series: pl.Series) -> int:
    """The widest `.4g` text any value of the column can take, from a few vectorized statistics."""
    finite = series.filter(series.is_finite())
    width = 0
    if series.is_nan().any():
        width = 3
    if series.is_infinite().any():
        width = 4
    if finite.len() == 0:
        return width
    magnitude = finite.abs()
    nonzero = magnitude.filter(magnitude > 0)
    widest = 1
    if nonzero.len():
        low, high = float(nonzero.min()), float(nonzero.max())  # type: ignore[arg-type]
        if high >= 1e100 or low < 1e-99:
            widest = 10
        elif high >= 1e4 or low < 1e-3:
            widest = 9
        elif low < 1e-2:
            widest = 8
        elif low < 0.1:
            widest = 7
        elif low < 1:
            widest = 6
        else:
            widest = 5
    if float(finite.min()) < 0:  # type: ignore[arg-type]
        widest += 1
    return max(width, widest)


def _content_width(series: pl.Series, kind: Kind) -> int:
    values = series.drop_nulls()
    width = len(NULL) if values.len() < series.len() else 0
    if values.len() == 0:
        return width
    if kind == "float":
        return max(width, _float_width(values))
    if kind == "duration":
        top = float(values.max())  # type: ignore[arg-type]
        text = len(format_duration(top))
        return max(width, text if top < 60 else max(6, text))
    if kind == "int":
        return max(width, len(str(values.min())), len(str(values.max())))
    if kind == "bool":
        return max(width, 5 if not values.all() else 4)
    lengths = values.cast(pl.Utf8).str.len_chars()
    return max(width, int(lengths.max()))  # type: ignore[arg-type]


def layout_columns(frame: pl.DataFrame, keys: Sequence[str]) -> tuple[Column, ...]:
    """Widths from whole-column statistics, so scrolling never makes columns jump.

    A header always has room for the sort arrow; long text is capped and later cut with an
    ellipsis, so one long name does not push the results off screen.
    """
    labels = header_labels(keys)
    columns = []
    for key in keys:
        kind = column_kind(key, frame.schema[key])
        label = labels[key]
        content = _content_width(frame[key], kind)
        if kind == "str":
            content = min(content, MAX_WIDTHS.get(key, DEFAULT_MAX_WIDTH))
        width = max(content, cell_width(label) + SORT_MARK_WIDTH)
        columns.append(Column(key=key, label=label, width=width, kind=kind))
    return tuple(columns)


def states_present(frame: pl.DataFrame) -> list[str]:
    """States to offer as filters, in lifecycle order rather than alphabetically."""
    if "state" not in frame.columns or frame.height == 0:
        return []
    seen = set(frame["state"].drop_nulls().unique().to_list())
    return [s.value for s in TrialState if s.value in seen]


def cycle(options: Sequence[_T], current: _T, step: int = 1) -> _T:
    """The option `step` places after `current`, wrapping; an unknown current starts at an end."""
    if not options:
        return current
    try:
        index = list(options).index(current)
    except ValueError:
        return options[0] if step > 0 else options[-1]
    return options[(index + step) % len(options)]


def next_sort(keys: Sequence[str], current: str | None, step: int = 1) -> str | None:
    """Sort keys cycle through the visible columns, so every column is reachable from the keyboard."""
    if not keys:
        return current
    return cycle(list(keys), current, step)  # type: ignore[arg-type]


def next_filter(states: Sequence[str], current: str | None, step: int = 1) -> str | None:
    """All trials first, then each state present; a state that vanished restarts the cycle."""
    options: list[str | None] = [None, *states]
    if current not in options:
        return None
    return cycle(options, current, step)
