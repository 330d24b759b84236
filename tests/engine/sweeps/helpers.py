"""What the sweep tests share: a tiny toy2d config, a search table for it, the test plugins' folder,
and waiting for a sweep's trials."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.store import Store
from engine.sweeps.spec import SearchSpec, parse_search

PLUGINS = Path(__file__).parents[1] / "plugins"
WAIT = 60.0  # generous deadline for anything awaited; never reached unless something is broken


def toy(**updates: Any) -> Config:
    base = {"task": {"name": "toy2d", "n_samples": 300}, "model": {"hidden": [8]},
            "optim": {"max_epochs": 4}, "run": {"device": "cpu"}}
    return Config.from_dict(base).with_updates(updates)


def spec_for(base: Config, **table: Any) -> SearchSpec:
    return parse_search(table, base)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def sweep_trials(store: Store, sweep_id: int) -> list:
    return [t for t in store.trials() if t.sweep_id == sweep_id]
