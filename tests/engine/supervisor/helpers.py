"""What the supervisor tests share: tiny toy2d configs, waiting, and looking at real processes.

Every test runs a real detached supervisor (`python -m engine.supervisor`) on a store of its own and
real trainer children; the `supervised` fixture (conftest.py) ends whatever is left of them.
"""
from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.store import Store
from engine.store.commands import Command
from engine.store.liveness import process_alive
from engine.supervisor.files import SupervisorFiles, running_pid

PLUGINS = Path(__file__).parent / "plugins"
WAIT = 30.0  # generous deadline for anything awaited; never reached unless something is broken
POLL = 0.05
LONG = {"optim.max_epochs": 100_000, "early_stop.patience": 0}  # trains until stopped


def toy(**updates: Any) -> Config:
    base = {"task": {"name": "toy2d", "n_samples": 300}, "model": {"hidden": [8]},
            "optim": {"max_epochs": 2}, "run": {"device": "cpu"}}
    return Config.from_dict(base).with_updates(updates)


def wait_until(predicate: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting until {what}"
        time.sleep(POLL)


def files_of(store: Store) -> SupervisorFiles:
    return SupervisorFiles(store.path.resolve())


def supervisor_pid(store: Store) -> int | None:
    pid = running_pid(files_of(store))
    return pid if pid is not None and pid > 0 else None


def alive(pid: int) -> bool:
    """The process runs (a zombie, or a pid reused by another program, does not count)."""
    return process_alive(pid, "")


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (its trainer children, the resource tracker), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields and fields[0] not in ("Z", "X"):
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def supervisors_of(store: Store) -> list[int]:
    """Live `python -m engine.supervisor` processes for this store, whoever started them."""
    target = str(store.path.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"engine.supervisor" in argv and target.encode() in argv and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def commands(store: Store) -> list[Command]:
    """Every command row, oldest first."""
    raw = sqlite3.connect(store.path)
    try:
        ids = [row[0] for row in raw.execute("SELECT id FROM commands ORDER BY id")]
    finally:
        raw.close()
    return [c for c in (store.command(i) for i in ids) if c is not None]


def duplicate_metric_rows(store: Store) -> list[tuple]:
    """(trial, epoch, step, metric, count) for every metric stored more than once."""
    raw = sqlite3.connect(store.path)
    try:
        return raw.execute("SELECT trial_id, epoch, step, metric, COUNT(*) FROM metrics "
                           "GROUP BY trial_id, epoch, step, metric HAVING COUNT(*) > 1").fetchall()
    finally:
        raw.close()


def set_rows(store: Store, table: str, row_id: int, **values: Any) -> None:
    """Write columns of a trial or sweep row directly, as another process (or host) would have."""
    raw = sqlite3.connect(store.path)
    try:
        with raw:
            sets = ", ".join(f"{name} = ?" for name in values)
            raw.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*values.values(), row_id))
    finally:
        raw.close()


def reopened(store: Store) -> Store:
    """A fresh connection to the store: opening it runs recovery, as the next `tunedeck` would."""
    return Store(store.path)


def trainer_pid(store: Store, trial_id: int) -> int:
    pid = store.trial(trial_id).env.get("pid")
    assert isinstance(pid, int) and pid != os.getpid(), f"trial {trial_id} did not run in a trainer child"
    return pid
