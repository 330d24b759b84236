"""The store's supervisor, run in a thread of the test process, for cockpit tests.

It is the real Supervisor (engine/supervisor/server.py) holding the real lock; only where it runs
differs from `tunedeck` (a thread here instead of a detached process, so that a test sees its
trials train with any executor, including a fake broken one). `close_all` ends every one a test
started; tests/tui/conftest.py calls it after each test.
"""
from __future__ import annotations

import os
import threading

from engine.config.groups import Config
from engine.execution.executors import Executor, ThreadExecutor
from engine.store import Store
from engine.supervisor.client import SupervisorClient
from engine.supervisor.files import SupervisorFiles, take_lock
from engine.supervisor.server import Supervisor
from tui.app import TunedeckApp

_STARTED: list[LocalSupervisor] = []


class LocalSupervisor:
    def __init__(self, store: Store, executor: Executor) -> None:
        lock = take_lock(SupervisorFiles(store.path.resolve()))
        assert lock is not None, "another supervisor holds this store"
        self._lock = lock
        self.supervisor = Supervisor(store.path, executor, idle_exit=None, poll=0.05)
        self.thread = threading.Thread(target=self.supervisor.serve, daemon=True, name="test-supervisor")
        self.thread.start()
        self.client = SupervisorClient(store, launch=lambda: None)
        _STARTED.append(self)

    def close(self) -> None:
        self.supervisor.stop("stopped: the test ended")
        self.thread.join(30)
        os.close(self._lock)


def supervised_app(config: Config, store: Store, executor: Executor | None = None, **options: object) -> TunedeckApp:
    """The cockpit on `store`, its supervisor running in this process with `executor` (threads by default)."""
    local = LocalSupervisor(store, executor or ThreadExecutor())
    return TunedeckApp(config, store, local.client, **options)  # type: ignore[arg-type]


def close_all() -> None:
    while _STARTED:
        _STARTED.pop().close()
