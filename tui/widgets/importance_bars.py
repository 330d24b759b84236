"""Each knob's share of the objective's variation, as bars of text, largest first.

Block characters rather than plotext: a handful of shares needs no axes, reads at any width and
costs nothing to redraw. The largest share fills the bar column and the others are scaled
against it (eighth blocks keep close shares apart); the percentage beside each bar is its share
of the total, so the column of percentages sums to 100.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widgets import Static

EIGHTHS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")
FULL = "█"
LABEL_MAX = 28
PERCENT_WIDTH = 6  # "100.0%"
MIN_BAR = 4
FALLBACK_WIDTH = 60  # before the first layout, when the widget has no width yet
BAR_STYLE = "color(33)"
EMPTY_NOTE = "no importance yet: it needs two completed trials that differ"


def ordered_shares(scores: Mapping[str, Any]) -> list[tuple[str, float]]:
    """(key, fraction of the total) largest first, ties by key; non-numbers and negatives dropped.

    Fractions are taken of the total of what is kept, so they sum to 1 whatever the input summed
    to (Optuna's shares already do; a hand-made dict may not). All zero stays all zero.
    """
    kept: list[tuple[str, float]] = []
    for key, value in scores.items():
        try:
            share = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(share) and share >= 0:
            kept.append((str(key), share))
    total = sum(share for _, share in kept)
    if total > 0:
        kept = [(key, share / total) for key, share in kept]
    return sorted(kept, key=lambda item: (-item[1], item[0]))


def bar(fraction: float, width: int) -> str:
    """A bar `fraction` (clamped to 0..1) of `width` cells, to an eighth of a cell."""
    if not math.isfinite(fraction) or width <= 0:
        return ""
    eighths = round(min(1.0, max(0.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return FULL * full + EIGHTHS[part]


def short_key(key: str, width: int) -> str:
    """A dotted key cut from the left when too long: the leaf names the knob, the group less so."""
    if len(key) <= width:
        return key
    return "…" + key[len(key) - width + 1:] if width > 1 else key[:width]


def bar_rows(scores: Mapping[str, Any], width: int) -> list[tuple[str, str, str]]:
    """(label, bar, percentage) cells per knob for a line of `width` cells, largest first.

    The label column is as wide as the longest key (at most LABEL_MAX and a third of the line),
    the percentage column six cells; the bar takes the rest, and the largest share fills it.
    """
    rows = ordered_shares(scores)
    if not rows:
        return []
    label_width = max(1, min(LABEL_MAX, max(len(key) for key, _ in rows), max(8, width // 3)))
    bar_width = max(MIN_BAR, width - label_width - PERCENT_WIDTH - 2)
    largest = rows[0][1]
    out = []
    for key, share in rows:
        cells = bar(share / largest if largest > 0 else 0.0, bar_width)
        out.append((short_key(key, label_width).ljust(label_width), cells.ljust(bar_width),
                    f"{share * 100:5.1f}%".rjust(PERCENT_WIDTH)))
    return out


class ImportanceBars(Static):
    """Horizontal bars of {knob: share}, redrawn to the widget's width; one line per knob.

    `show(scores, note)` replaces what is drawn. With no scores the note says why (pass the
    reason: "needs two completed trials that differ"); with scores it is a dim line beneath.
    """

    DEFAULT_CSS = """
    ImportanceBars {
        width: 1fr;
        height: auto;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", name=name, id=id, classes=classes)
        self._scores: dict[str, Any] = {}
        self._note = EMPTY_NOTE

    @property
    def shares(self) -> list[tuple[str, float]]:
        """What the bars show: (key, fraction of the total), largest first."""
        return ordered_shares(self._scores)

    @property
    def note(self) -> str:
        return self._note

    def show(self, scores: Mapping[str, Any], note: str = "") -> None:
        """Draw these shares (any mapping; bad values are left out) with an optional note."""
        try:
            self._scores = dict(scores)
        except (TypeError, ValueError):
            self._scores = {}
        self._note = note or ("" if self._scores else EMPTY_NOTE)
        self.refresh(layout=True)

    def plain_lines(self, width: int | None = None) -> list[str]:
        """The drawn lines as plain text, at `width` or the widget's own width."""
        return self._text(width).plain.splitlines()

    def _text(self, width: int | None = None) -> Text:
        width = width or self.content_size.width or FALLBACK_WIDTH
        rows = bar_rows(self._scores, width)
        if not rows:
            return Text(self._note or EMPTY_NOTE, style="dim", end="")
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for index, (label, cells, percent) in enumerate(rows):
            if index:
                text.append("\n")
            text.append(label + " ")
            text.append(cells, style=BAR_STYLE)
            text.append(" " + percent, style="bold")
        if self._note:
            text.append("\n" + self._note, style="dim")
        return text

    def render(self) -> Text:
        return self._text()
