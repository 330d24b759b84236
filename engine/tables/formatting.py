"""Plain-text rendering of values and tables, shared by the headless CLI and the TUI.

Text from outside (a trial's name, a knob's string value, a column named after a plugin option) is
shown through `engine.errors.safe_text`, re-exported here: a name holding terminal escapes prints
them as `\x1b[2J`, it does not clear the screen.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from engine.errors import safe_text

__all__ = ["safe_text", "fmt_value", "fmt_duration", "column_widths", "fit_columns", "render_table", "fmt_bytes",
           "checkpoint_summary"]


def fmt_value(value: Any) -> str:
    """Numbers short but exact enough to compare (4 significant digits), nulls as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return safe_text(value)


def fmt_duration(seconds: float | None) -> str:
    """Short runs in tenths of a second, longer ones in minutes and hours, always a few cells wide."""
    if seconds is None:
        return "-"
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def column_widths(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Each column's width as `render_table` draws it: its header or its widest cell, whichever is wider."""
    return [max([len(safe_text(h))] + [len(fmt_value(row[i])) for row in rows]) for i, h in enumerate(headers)]


def fit_columns(widths: Sequence[int], wanted: Sequence[int], width: int, gap: int = 2) -> list[int]:
    """The columns (indices into `widths`) that fit side by side in a line of `width` cells.

    `wanted` lists column indices from most to least wanted. A column too wide for what is left is
    passed over, so that narrower, less wanted ones still get in; the most wanted one is kept even
    when it alone overflows, because a table without its first column says nothing. Rows are never
    wrapped: what does not fit is left out. Returned in display order (sorted).
    """
    chosen: list[int] = []
    used = 0
    for index in wanted:
        if index in chosen:
            continue
        need = widths[index] + (gap if chosen else 0)
        if chosen and used + need > width:
            continue
        chosen.append(index)
        used += need
    return sorted(chosen)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[fmt_value(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and bool(rows)
               for i in range(len(headers))]
    widths = column_widths(headers, rows)

    def line(items: Sequence[str]) -> str:
        parts = [s.rjust(w) if num else s.ljust(w) for s, w, num in zip(items, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [line([safe_text(h) for h in headers]), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def fmt_bytes(size: float | None) -> str:
    """`512 B`, `4.0 KiB`, `160.3 MiB`, `1.2 GiB`: checkpoint and export sizes, as people read them."""
    if size is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def checkpoint_summary(checkpoints: Sequence[Any]) -> str:
    """One line for a trial's checkpoints (CheckpointRecords): `best epoch 12 (4.0 KiB), last epoch 20 (...)
    in DIR`, or `none`; the CLI's `show` and the cockpit's detail view both print it."""
    if not checkpoints:
        return "none"
    parts = [f"{c.kind} epoch {c.epoch} ({fmt_bytes(c.size)})" for c in checkpoints]
    return ", ".join(parts) + f" in {safe_text(checkpoints[0].path.parent)}"
