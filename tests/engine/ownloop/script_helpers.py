"""What the script executor's tests share: real scripts written to a folder, their configs, waiting."""
from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.ownloop.executor import ScriptExecutor
from engine.store import Store

WAIT = 60.0  # generous deadline for anything awaited; never reached unless something is broken
# Written at the top of every test script: the path of a file whose appearance lets it go on.
PRELUDE = """
import json, os, signal, sys, time

def wait_for(path, limit=60.0):
    end = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit("gave up waiting for " + path)
        time.sleep(0.02)
"""


def write_script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(PRELUDE + textwrap.dedent(body))
    return path


def script_config(path: Path, **settings: Any) -> Config:
    """A script trial's config; `settings` are dotted knobs (task.* and any other)."""
    return Config.from_dict({"task": {"name": "script", "path": str(path)}}).with_updates(settings)


def fast_executor(store: Store, **kwargs: Any) -> ScriptExecutor:
    """Records through the test's store, polls often and holds stdout epochs back briefly (short tests)."""
    return ScriptExecutor(**{"store": store, "poll": 0.05, "hold": 0.3, "notice": 1.0, **kwargs})


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
