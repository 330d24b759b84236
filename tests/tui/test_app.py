"""The cockpit driven as a user would, through Pilot: real training where the test says so."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Awaitable, Callable

import polars as pl
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from engine.events import TrialState
from engine.execution.executors import ThreadExecutor
from engine.tables.export import FORMATS, read_export
from engine.config.presets import load_preset
from engine.store import Store
from engine.tables.frames import TRIAL_SCHEMA
from tests.tui.scripted import scripted_store
from tui.app import TunedeckApp
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen

FAST = {"optim.max_epochs": 4, "task.n_samples": 300, "run.device": "cpu"}


def app_on(store: Store, **updates: object) -> TunedeckApp:
    config = load_preset("toy2d-mlp").with_updates({**FAST, **updates})
    return TunedeckApp(config, store, ThreadExecutor())


def drive(app: TunedeckApp, script: Callable[[Pilot], Awaitable[None]], size: tuple[int, int] = (120, 36)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.3)
            await script(pilot)
    asyncio.run(main())


async def until(pilot: Pilot, condition: Callable[[], bool], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.1)


async def type_into(pilot: Pilot, app: TunedeckApp, key: str, text: str) -> None:
    editor = app.form.editor(key)
    assert isinstance(editor, Input)
    editor.focus()
    editor.value = ""
    await pilot.press(*text)
    await pilot.pause(0.1)


def test_fill_the_form_train_for_real_and_see_the_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        await type_into(pilot, app, "optim.lr", "2e-2")
        await type_into(pilot, app, "optim.max_epochs", "3")
        assert app.form.config is not None and app.form.config.optim.lr == 0.02
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any(r.state.is_finished for r in store.trials()))
        await until(pilot, lambda: app.table.current_view().height == 1
                    and app.table.current_view()["state"][0] == "completed")
        row = app.table.current_view().row(0, named=True)
        assert row["optim.lr"] == 0.02 and row["epochs_run"] == 3
        assert row["best_val_loss"] is not None and row["test_acc"] is not None
        assert len(app.plot.series) == 2 and app.plot.series[0].label == "#1 train"

    drive(app, script)


def test_an_invalid_field_blocks_starting_and_says_why(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        await type_into(pilot, app, "optim.lr", "-1")
        assert app.form.config is None and "must be > 0" in app.form.errors["optim.lr"]
        assert app.screen.query_one("#start").disabled
        await pilot.press("ctrl+r")
        await pilot.pause(0.2)
        assert store.count() == 0
        assert any("optim.lr" in str(n.message) for n in app._notifications)

    drive(app, script)


def test_stopping_a_running_trial_records_it_cancelled(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store, **{"optim.max_epochs": 100000, "early_stop.patience": 0})

    async def script(pilot: Pilot) -> None:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: bool(app.live.running()) and app.live.get(1).epochs)
        await pilot.press("ctrl+x")
        await until(pilot, lambda: store.trial(1).state is TrialState.CANCELLED)
        assert "cancelled by the user" in store.trial(1).reason

    drive(app, script)


def test_a_key_is_handled_promptly_while_a_trial_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store, **{"optim.max_epochs": 100000, "early_stop.patience": 0})

    async def open_help(pilot: Pilot) -> float:
        started = time.perf_counter()
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), 30)
        elapsed = time.perf_counter() - started
        await pilot.press("escape")
        await pilot.pause(0.1)
        return elapsed

    async def script(pilot: Pilot) -> None:
        app.table.focus()
        idle = min([await open_help(pilot) for _ in range(3)])
        await pilot.press("ctrl+r")
        await until(pilot, lambda: bool(app.live.running()) and app.live.get(1).epochs)
        busy = min([await open_help(pilot) for _ in range(3)])
        await pilot.press("ctrl+x")
        await until(pilot, lambda: store.trial(1).state.is_finished)
        # Relative to the same app idle; a generous factor, since the thread executor shares the GIL.
        assert busy < max(10 * idle, idle + 0.5), (idle, busy)

    drive(app, script)


def test_sort_by_a_metric_column_failures_last(tmp_path: Path) -> None:
    store = scripted_store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        app.table.focus()
        for _ in range(40):
            if app.table.sort_column == "best_val_loss":
                break
            await pilot.press("s")
        assert app.table.sort_column == "best_val_loss"
        view = app.table.current_view()
        assert view["id"].to_list()[:2] == [1, 2]  # 0.22 before 0.6; failed/diverged after both
        assert set(view["id"].to_list()[2:]) == {3, 4}
        await pilot.press("r")
        assert app.table.current_view()["id"].to_list()[:2] == [2, 1]

    drive(app, script)


def test_detail_view_and_clone_into_the_form(tmp_path: Path) -> None:
    store = scripted_store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        app.table.focus()
        app.table.move_to_trial(3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "ValueError: boom" in text and "failed" in text and "lr = 0.1" in text
        await pilot.press("c")  # clone from the detail view
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        await pilot.pause(0.2)
        assert app.form.config is not None and app.form.config.optim.lr == 0.1
        assert app.form.editor("optim.lr").value == "0.1"
        app.table.move_to_trial(2)
        await pilot.press("c")
        await pilot.pause(0.2)
        assert app.form.config.optim.lr == 0.001

    drive(app, script)


def test_save_a_preset_and_load_it_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        await type_into(pilot, app, "optim.lr", "0.005")
        saved = app.form.config
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        path_input = app.screen.query_one("#save-path", Input)
        path_input.value = "mine.toml"
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "mine.toml").exists())
        await type_into(pilot, app, "optim.lr", "0.3")
        assert app.form.config.optim.lr == 0.3
        await pilot.press("ctrl+o")
        await pilot.pause(0.2)
        app.screen.query_one("#preset-path", Input).value = "mine.toml"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.form.config == saved.with_updates({"name": "mine"}) or app.form.config == saved

    drive(app, script)


def test_a_bad_preset_shows_the_engines_message_and_keeps_the_form(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("[optim]\nlr = -2\n")
    app = app_on(Store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        before = app.form.config
        await pilot.press("ctrl+o")
        await pilot.pause(0.2)
        app.screen.query_one("#preset-path", Input).value = "bad.toml"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.form.config == before
        messages = [str(n.message) for n in app._notifications]
        assert any("bad.toml:2: optim.lr: must be > 0, got -2" in m for m in messages), messages

    drive(app, script)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_each_format_reads_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    monkeypatch.chdir(tmp_path)
    store = scripted_store(tmp_path / "t.db")
    app = app_on(store)
    suffix = {"markdown": ".md"}.get(fmt, f".{fmt}")

    async def script(pilot: Pilot) -> None:
        app.table.focus()
        app.table.sort_by("best_val_loss")
        await pilot.press("e")
        await pilot.pause(0.2)
        from textual.widgets import Select

        app.screen.query_one("#export-format", Select).value = fmt
        await pilot.pause(0.1)
        app.screen.query_one("#export-path", Input).value = f"out{suffix}"
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / f"out{suffix}").exists(), 10)
        expected = app.table.current_view()
        got = read_export(tmp_path / f"out{suffix}", fmt, TRIAL_SCHEMA)
        assert got["id"].to_list() == expected["id"].to_list()
        assert got.select(pl.col("optim.lr")).equals(expected.select(pl.col("optim.lr")))

    drive(app, script)


def test_reopening_shows_every_trial(tmp_path: Path) -> None:
    scripted_store(tmp_path / "t.db").close()
    app = app_on(Store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        assert sorted(app.table.current_view()["id"].to_list()) == [1, 2, 3, 4]

    drive(app, script)


def test_small_terminal_switches_between_form_and_monitor(tmp_path: Path) -> None:
    app = app_on(scripted_store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        main = app.cockpit
        assert main.has_class("narrow")
        assert not app.form.display or not main.query_one("#left").display
        await pilot.press("f2")
        await pilot.pause(0.1)
        assert main.query_one("#left").display and not main.query_one("#right").display
        await pilot.press("f2")
        await pilot.pause(0.1)
        assert main.query_one("#right").display

    drive(app, script, size=(80, 24))


def test_queued_trials_wait_and_more_at_once_starts_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store, **{"optim.max_epochs": 100000, "early_stop.patience": 0})

    async def script(pilot: Pilot) -> None:
        app.table.focus()
        await pilot.press("ctrl+r", "ctrl+r")
        await until(pilot, lambda: app.queue.running_ids == [1])
        assert app.queue.pending_ids == [2] and store.trial(2).state is TrialState.QUEUED
        await pilot.press("plus")
        await until(pilot, lambda: sorted(app.queue.running_ids) == [1, 2])
        assert app.parallel == 2
        for trial_id in (1, 2):
            app.queue.cancel(trial_id)
        await until(pilot, lambda: all(r.state is TrialState.CANCELLED for r in store.trials()))

    drive(app, script)
