"""The export dialog and the detail view fit the terminals people have: 80x24 and 120x36.

Driven through the cockpit with Pilot on a store of scripted trials: the buttons lie inside the
screen and the dialog and can be clicked; the detail view shows every epoch column without
scrolling sideways, beside the knobs where there is room and above them where there is not.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input

from engine.config.presets import load_preset
from engine.events import EpochEnded, Summary, TrialFinished, TrialStarted, TrialState
from engine.store import Store
from tests.tui.scripted import ENV, scripted_store, scripted_trial
from tests.tui.supervised import supervised_app
from tui.app import TunedeckApp
from tui.screens.detail import DetailScreen
from tui.screens.export import ExportScreen
from tui.screens.preset_save import PresetSaveScreen

SIZES = [(80, 24), (120, 36)]
LONG_RUN = 5  # the trial with 60 epochs and a small learning rate: the widest, longest epoch table
REGRESSION = 6
NO_EPOCH = 7  # failed while building its data
ALL_LABELS = ["epoch", "train_loss", "val_loss", "val_acc", "lr", "seconds"]


def store_for_dialogs(path: Path) -> Store:
    store = scripted_store(path)
    base = load_preset("toy2d-mlp")
    scripted_trial(store, base.with_updates({"optim.lr": 3e-4}), [1 / (i + 1) for i in range(60)],
                   TrialState.COMPLETED, "ran all 60 epochs")
    trial_id = store.create_trial(load_preset("curve"))
    store.start_trial(trial_id, TrialStarted("cpu", 65, 700, 150, 150, 11, "regression", 1), ENV)
    for epoch in (1, 2, 3):
        store.record(trial_id, EpochEnded(epoch, epoch * 11, 2.0 / epoch, 1.5 / epoch, None, 0.01, 0.2, True))
    store.record(trial_id, TrialFinished(TrialState.COMPLETED, "ran all 3 epochs",
                                         Summary(3, 0.5, None, 0.6, None, 3, 33), 0.6))
    assert trial_id == REGRESSION
    failed = store.create_trial(load_preset("toy2d-mlp"))
    store.start_trial(failed, TrialStarted("cpu", 65, 700, 150, 150, 11, "binary", 1), ENV)
    store.record(failed, TrialFinished(TrialState.FAILED, "TaskError: no such file", Summary(), 0.1, "TaskError"))
    assert failed == NO_EPOCH
    return store


def drive(tmp_path: Path, size: tuple[int, int], script: Callable[[Pilot, TunedeckApp], Awaitable[None]]) -> None:
    app = supervised_app(load_preset("toy2d-mlp"), store_for_dialogs(tmp_path / "t.db"))

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.3)
            await script(pilot, app)

    asyncio.run(main())


async def until(pilot: Pilot, condition: Callable[[], bool], seconds: float = 30) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not met in time")


def inside(widget: Widget, outer: Region) -> bool:
    return widget.region.area > 0 and outer.contains_region(widget.region)


def dialog_content(app: TunedeckApp) -> Region:
    return app.screen.query_one(".dialog").content_region


@pytest.mark.parametrize("size", SIZES)
def test_export_dialog_buttons_fit_and_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            size: tuple[int, int]) -> None:
    monkeypatch.chdir(tmp_path)

    async def script(pilot: Pilot, app: TunedeckApp) -> None:
        app.cockpit.table.focus()
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        await pilot.pause(0.2)
        screen, content = app.screen.region, dialog_content(app)
        assert screen.contains_region(app.screen.query_one(".dialog").region)
        for selector in ("#export-format", "#export-path", "#export-history", "#export-force",
                         "#export-go", "#export-cancel"):
            assert inside(app.screen.query_one(selector), content), (selector, content)
        app.screen.query_one("#export-path", Input).value = "missing-dir/out.csv"
        await pilot.click("#export-go")  # a file in a folder that does not exist: the error shows
        await until(pilot, lambda: app.screen.query_one("#export-error").display)
        await pilot.pause(0.2)
        content = dialog_content(app)
        assert "missing-dir" in str(app.screen.query_one("#export-error").render())
        for selector in ("#export-error", "#export-go", "#export-cancel"):
            assert inside(app.screen.query_one(selector), content), (selector, content)
        app.screen.query_one("#export-path", Input).value = "out.csv"
        await pilot.click("#export-go")
        await until(pilot, lambda: (tmp_path / "out.csv").exists() and not isinstance(app.screen, ExportScreen))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        await pilot.click("#export-cancel")
        await until(pilot, lambda: not isinstance(app.screen, ExportScreen))

    drive(tmp_path, size, script)


@pytest.mark.parametrize("size", SIZES)
def test_save_dialog_buttons_fit(tmp_path: Path, size: tuple[int, int]) -> None:
    async def script(pilot: Pilot, app: TunedeckApp) -> None:
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PresetSaveScreen))
        await pilot.pause(0.2)
        content = dialog_content(app)
        for button in app.screen.query(Button):
            assert inside(button, content), (button.id, content)
        await pilot.click("#save-cancel")
        await until(pilot, lambda: not isinstance(app.screen, PresetSaveScreen))

    drive(tmp_path, size, script)


def every_column_in_view(table: DataTable) -> bool:
    widths = sum(column.get_render_width(table) for column in table.columns.values())
    return table.max_scroll_x == 0 and widths <= table.scrollable_content_region.width


async def open_detail(pilot: Pilot, app: TunedeckApp, trial_id: int) -> DetailScreen:
    app.cockpit.table.focus()
    app.cockpit.table.move_to_trial(trial_id)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    await pilot.pause(0.3)
    assert isinstance(app.screen, DetailScreen)
    return app.screen


@pytest.mark.parametrize("size", SIZES)
def test_detail_view_shows_every_epoch_column(tmp_path: Path, size: tuple[int, int]) -> None:
    async def script(pilot: Pilot, app: TunedeckApp) -> None:
        for trial_id, labels in ((LONG_RUN, ALL_LABELS), (NO_EPOCH, ALL_LABELS),
                                 (REGRESSION, ["epoch", "train_loss", "val_loss", "lr", "seconds"])):
            screen = await open_detail(pilot, app, trial_id)
            table = screen.query_one("#detail-epochs", DataTable)
            assert [str(c.label) for c in table.columns.values()] == labels  # no val_acc for a regression
            assert table.row_count == {LONG_RUN: 60, NO_EPOCH: 0, REGRESSION: 3}[trial_id]
            assert every_column_in_view(table), (table.size, table.virtual_size)
            dialog = screen.query_one(".dialog").content_region  # it scrolls: only its width bounds the table
            assert dialog.x <= table.region.x and table.region.right <= dialog.right
            config = screen.query_one("#detail-config")
            if size[0] < 120:
                assert screen.has_class("stacked") and table.region.bottom <= config.region.y
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, DetailScreen))

    drive(tmp_path, size, script)


def test_detail_view_follows_the_terminal_width(tmp_path: Path) -> None:
    async def script(pilot: Pilot, app: TunedeckApp) -> None:
        screen = await open_detail(pilot, app, 1)
        table, config = screen.query_one("#detail-epochs", DataTable), screen.query_one("#detail-config")
        assert not screen.has_class("stacked") and table.region.x >= config.region.right  # side by side
        assert every_column_in_view(table)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: screen.has_class("stacked"))
        await pilot.pause(0.3)
        assert table.region.bottom <= config.region.y and every_column_in_view(table)
        await pilot.resize_terminal(160, 40)
        await until(pilot, lambda: not screen.has_class("stacked"))
        await pilot.pause(0.3)
        assert table.region.x >= config.region.right and every_column_in_view(table)

    drive(tmp_path, (160, 40), script)
