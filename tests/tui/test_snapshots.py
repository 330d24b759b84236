"""The cockpit's layout at 120x36 and 80x24 with scripted trials, so that layout regressions show.

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update` and
look at the new SVGs in tests/tui/__snapshots__/ before committing them.
"""
from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from engine.config.presets import load_preset
from tests.tui.scripted import scripted_store
from tests.tui.supervised import supervised_app
from tui.app import TunedeckApp


def cockpit(tmp_path: Path) -> TunedeckApp:
    return supervised_app(load_preset("toy2d-mlp"), scripted_store(tmp_path / "t.db"))


async def settle(pilot: Pilot) -> None:
    await pilot.pause(0.5)
    app = pilot.app
    app.cockpit.table.focus()
    app.cockpit.table.move_to_trial(1)
    await pilot.pause(0.3)
    app.cockpit.plot.draw_now()
    await pilot.pause(0.2)


def test_main_screen_120x36(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(cockpit(tmp_path), terminal_size=(120, 36), run_before=settle)


def test_main_screen_80x24(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(cockpit(tmp_path), terminal_size=(80, 24), run_before=settle)


def test_form_pane_80x24(snap_compare, tmp_path: Path) -> None:
    async def form(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("f2")
        await pilot.pause(0.3)

    assert snap_compare(cockpit(tmp_path), terminal_size=(80, 24), run_before=form)
