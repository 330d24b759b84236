"""Work queued while no supervisor ran goes on when the cockpit opens, once its first frame is up."""
from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from engine.config.presets import load_preset
from engine.store import Store
from engine.supervisor.client import SupervisorClient
from tests.tui.test_app import until
from tests.tui.test_cockpit_keys_in_fields import drive
from tui.app import TunedeckApp


def test_queued_work_starts_its_supervisor_after_the_first_frame(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    queued = store.create_trial(load_preset("toy2d-mlp"), for_supervisor=True)  # left by a supervisor that died
    launches: list[bool] = []  # a stand-in for starting the detached supervisor (another test starts a real one)
    app = TunedeckApp(load_preset("toy2d-mlp"), store,
                      SupervisorClient(store, launch=lambda: launches.append(app.cockpit.ready)))

    async def script(pilot: Pilot) -> None:
        await until(pilot, lambda: bool(launches), 10)
        assert queued in app.services.queued()

    drive(app, script)
    assert launches == [True]  # once, and only when the cockpit was ready


def test_an_empty_queue_starts_no_supervisor(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    launches: list[int] = []
    app = TunedeckApp(load_preset("toy2d-mlp"), store, SupervisorClient(store, launch=lambda: launches.append(1)))

    async def script(pilot: Pilot) -> None:
        await pilot.pause(0.5)

    drive(app, script)
    assert launches == []
