"""The states a trial and a sweep can be in, and the questions every part of tunedeck asks of them.

One definition: the sweep's progress, the store's counts, the table's sort order and the CLI's exit
status all ask these predicates instead of listing states of their own.
"""
from __future__ import annotations

import enum


class _Named(str, enum.Enum):
    """Prints as its stored word (`completed`), as users see it in tables and messages."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class TrialState(_Named):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    PRUNED = "pruned"
    DIVERGED = "diverged"  # the loss became NaN or infinite
    FAILED = "failed"  # an exception; the message is kept
    CANCELLED = "cancelled"  # by the user (or with its sweep)
    INTERRUPTED = "interrupted"  # the process that ran it died

    @property
    def is_finished(self) -> bool:
        return self not in (TrialState.QUEUED, TrialState.RUNNING)

    @property
    def has_results(self) -> bool:
        """Ended with usable metrics (sorted before the others in tables)."""
        return self in (TrialState.COMPLETED, TrialState.EARLY_STOPPED, TrialState.PRUNED)

    @property
    def scores(self) -> bool:
        """Ran to its own end, so its best value is an objective a sweep may rank (a pruned trial's is not)."""
        return self in (TrialState.COMPLETED, TrialState.EARLY_STOPPED)

    @property
    def is_failure(self) -> bool:
        """The trial itself broke: an exception, or a loss that diverged."""
        return self in (TrialState.FAILED, TrialState.DIVERGED)

    @property
    def is_lost(self) -> bool:
        """Stopped from outside before its end (by the user, or a dead process): a resumed sweep runs it again."""
        return self in (TrialState.CANCELLED, TrialState.INTERRUPTED)

    @property
    def counts_toward_plan(self) -> bool:
        """Counts as one of a sweep's planned trials: it ended by itself, well or badly."""
        return self.is_finished and not self.is_lost

    @property
    def sorts_last(self) -> bool:
        """Shown after the trials with results in either sort direction."""
        return self.is_failure or self.is_lost


class SweepState(_Named):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"  # the process that ran it died

    @property
    def is_active(self) -> bool:
        """A live process is running it (it may be paused)."""
        return self in (SweepState.RUNNING, SweepState.PAUSED)

    @property
    def can_resume(self) -> bool:
        return self in (SweepState.STOPPED, SweepState.INTERRUPTED)
