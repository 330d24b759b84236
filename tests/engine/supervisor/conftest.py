"""The `supervised` fixture: a store with a client for its supervisor, and nothing left running after."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from engine.store import Store
from engine.supervisor.__main__ import IDLE_VAR
from engine.supervisor.client import SupervisorClient
from tests.engine.supervisor.helpers import alive, descendants, supervisor_pid, supervisors_of

SHUTDOWN_WAIT = 15.0


@dataclass
class Supervised:
    store: Store
    client: SupervisorClient
    watched: set[int] = field(default_factory=set)

    def watch(self, *pids: int) -> None:
        """Processes that must be gone when the test ends (killed then, and reported, if they are not)."""
        self.watched.update(pids)


@pytest.fixture
def supervised(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Supervised]:
    """A store whose supervisor (started by the test, through the client) is shut down at the end.

    Should anything survive the shutdown (the supervisor, its trainers, a process the test started),
    it is killed and the test fails: no test leaves a process behind. Stragglers of a crashed pytest
    end by themselves, after TUNEDECK_SUPERVISOR_IDLE seconds of nothing to do.
    """
    monkeypatch.setenv(IDLE_VAR, "20")
    supervised = Supervised(store, SupervisorClient(store))
    yield supervised
    pid = supervisor_pid(store)
    suspects = set(supervised.watched) | set(supervisors_of(store))
    if pid is not None:
        suspects |= {pid} | descendants(pid)
    with Store(store.path) as fresh:
        SupervisorClient(fresh).shutdown()
        deadline = time.monotonic() + SHUTDOWN_WAIT
        while supervisor_pid(fresh) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    deadline = time.monotonic() + 5.0
    while any(alive(p) for p in suspects) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = sorted(p for p in suspects if alive(p))
    for straggler in left:
        try:
            os.kill(straggler, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"processes left behind after the test (now killed): {left}"
