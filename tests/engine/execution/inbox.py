"""Events from every trial of a pool, gathered for a test that reads them in batches (the pool's sink)."""
from __future__ import annotations

import queue
from collections.abc import Sequence

from engine.events import Event


class EventInbox:
    """A pool sink that keeps every batch until drained."""

    def __init__(self) -> None:
        self._events: queue.Queue[tuple[int, Sequence[Event]]] = queue.Queue()

    def put(self, trial_id: int, batch: Sequence[Event]) -> None:
        self._events.put_nowait((trial_id, batch))

    def drain(self) -> list[tuple[int, Event]]:
        """Every event gathered since the last drain, oldest first; never blocks."""
        out: list[tuple[int, Event]] = []
        while True:
            try:
                trial_id, batch = self._events.get_nowait()
            except queue.Empty:
                return out
            out.extend((trial_id, event) for event in batch)
