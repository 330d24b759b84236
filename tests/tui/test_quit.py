"""Quitting the cockpit while trials run: it asks, then stops them or leaves them training."""
from __future__ import annotations

import time
from pathlib import Path

from textual.pilot import Pilot

from engine.config.presets import load_preset
from engine.events import TrialState
from engine.execution.trainer_process import ProcessExecutor
from engine.store import Store
from tests.tui.supervised import supervised_app
from tests.tui.test_app import FAST, app_on, drive, until
from tui.screens.quit_dialog import QuitScreen


def test_quitting_while_a_trial_runs_asks_and_stop_them_cancels_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store, **{"optim.max_epochs": 100000, "early_stop.patience": 0})

    async def script(pilot: Pilot) -> None:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.cockpit.live.get(1) is not None and app.cockpit.live.get(1).last("val_loss"))
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen), 60)
        await pilot.press("s")
        # The exit waits (on a timer, the UI still drawing) until the trial has recorded its end.
        await until(pilot, lambda: app.return_code is not None or store.trial(1).state.is_finished, 60)

    drive(app, script)
    assert store.trial(1).state is TrialState.CANCELLED
    assert "quit" in (store.trial(1).reason or "")


def test_quitting_and_keeping_the_trial_running_leaves_it_training_to_its_end(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    # The trainer is a process, as under `tunedeck`: a trainer thread racing through tiny epochs would
    # share this process's GIL with the UI and slow its keys down to seconds on a loaded CI box.
    config = load_preset("toy2d-mlp").with_updates({**FAST, "optim.max_epochs": 8000, "early_stop.patience": 0})
    app = supervised_app(config, store, ProcessExecutor())

    async def script(pilot: Pilot) -> None:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: store.count() == 1 and store.trial(1).epochs_run >= 1)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen), 60)
        await pilot.press("enter")  # the default: keep running

    drive(app, script)
    assert store.trial(1).state is TrialState.RUNNING  # the app is gone; its supervisor is not
    deadline = time.monotonic() + 240
    while not store.trial(1).state.is_finished and time.monotonic() < deadline:
        time.sleep(0.1)
    record = store.trial(1)
    assert record.state is TrialState.COMPLETED and record.epochs_run == 8000
    assert [e["epoch"] for e in store.epochs(1)] == list(range(1, 8001))
