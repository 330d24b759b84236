"""A store this user may read but not write: the cockpit shows it and says why it cannot train.

The tests run as root, whom file permissions do not stop, so the store's "no write permission" is
simulated here (engine.store.trials.read_only_reason patched); the store is then really opened with
SQLite's read-only mode. tests/cli/test_store_faults.py checks real permissions as an unprivileged
user through the console script.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from engine.config.presets import load_preset
from engine.store import Store
from engine.supervisor.client import SupervisorClient
from tests.tui.scripted import scripted_store
from tests.tui.test_app import until
from tests.tui.test_cockpit_keys_in_fields import drive
from tui.app import TunedeckApp


def test_the_cockpit_on_a_read_only_store_shows_it_and_refuses_to_train(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    scripted_store(tmp_path / "t.db").close()
    monkeypatch.setattr("engine.store.trials.read_only_reason", lambda path: f"no write permission on {path}")
    store = Store(tmp_path / "t.db", allow_read_only=True)
    assert store.read_only
    launches: list[int] = []
    app = TunedeckApp(load_preset("toy2d-mlp"), store, SupervisorClient(store, launch=lambda: launches.append(1)))

    def said(text: str) -> bool:
        return any(text in str(n.message) for n in app._notifications)

    async def script(pilot: Pilot) -> None:
        await until(pilot, lambda: app.cockpit.table.current_view().height == 4, 10)  # its trials, shown
        await until(pilot, lambda: said("read-only"), 10)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: said("read-only") and any(n.title == "Cannot start" for n in app._notifications), 10)

    drive(app, script)
    assert store.count() == 4 and launches == []  # nothing queued, no supervisor started
