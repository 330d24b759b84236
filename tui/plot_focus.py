"""Which trials the plot shows, and where the table's cursor goes, as trials start and end.

Rules (what a user watching the cockpit expects):
- While trials run, the plot shows the running ones (the newest first, at most MAX_RUNNING_SHOWN),
  plus the trial the user picked in the table, plus the selected ones.
- When the last one ends, its curve stays on screen (it is *pinned*) until the user picks another:
  the plot never jumps back to whatever row the cursor happened to be on.
- A trial that started and ended between two drain ticks was never seen running; it is pinned all
  the same, and its curve is read from the store.
- The table's cursor follows each newly started trial, unless the user moved the cursor; following
  resumes once the user puts the cursor back on the newest trial.
"""
from __future__ import annotations

from collections.abc import Sequence

MAX_RUNNING_SHOWN = 4


class PlotFocus:
    def __init__(self) -> None:
        self.pinned: int | None = None  # shown when nothing runs
        self.picked: int | None = None  # the trial the user put the cursor on
        self.following = True  # the cursor goes to each new trial
        self.newest: int | None = None  # the newest trial that started
        self._expected: int | None = None  # a cursor move this class asked for: not the user's

    def started(self, trial_id: int) -> int | None:
        """A trial started (or was first seen, already over): the trial the cursor should move to, or None."""
        if self.newest is not None and trial_id <= self.newest:
            return None  # an older trial resumed, or this one's row read again: no jump
        self.newest = trial_id
        self.pinned = trial_id
        self.picked = None
        if not self.following:
            return None
        self._expected = trial_id
        return trial_id

    def highlighted(self, trial_id: int) -> None:
        """The table's cursor is on `trial_id`: the user's doing unless this class moved it there."""
        if trial_id == self._expected:
            self._expected = None
            return
        self._expected = None
        self.picked = trial_id
        self.pinned = trial_id
        self.following = trial_id == self.newest

    def shown(self, running: Sequence[int], selected: Sequence[int], cursor: int | None) -> list[int]:
        """The trials to plot, first one in the first colours; no trial twice."""
        newest_first = sorted(running, reverse=True)[:MAX_RUNNING_SHOWN]
        main: list[int]
        if newest_first:
            main = newest_first + ([self.picked] if self.picked is not None else [])
        elif self.pinned is not None:
            main = [self.pinned]
        else:
            main = [cursor] if cursor is not None else []
        out: list[int] = []
        for trial_id in [*main, *selected]:
            if trial_id not in out:
                out.append(trial_id)
        return out
