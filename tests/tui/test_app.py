"""The cockpit driven as a user would, through Pilot: real training where the test says so."""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import polars as pl
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from engine.config.groups import Config
from engine.config.presets import load_preset
from engine.events import TrialFinished, TrialState
from engine.execution.executors import Judge, Sink
from engine.store import Store
from engine.tables.export import FORMATS, read_export
from engine.tables.frames import TRIAL_SCHEMA
from tests.tui.scripted import scripted_store
from tests.tui.supervised import supervised_app
from tui.app import TunedeckApp
from tui.screens.cockpit import CockpitScreen
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen

FAST = {"optim.max_epochs": 4, "task.n_samples": 300, "run.device": "cpu"}


def app_on(store: Store, **updates: object) -> TunedeckApp:
    config = load_preset("toy2d-mlp").with_updates({**FAST, **updates})
    return supervised_app(config, store)


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
    editor = app.cockpit.form.editor(key)
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
        assert app.cockpit.form.config is not None and app.cockpit.form.config.optim.lr == 0.02
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any(r.state.is_finished for r in store.trials()))
        await until(pilot, lambda: app.cockpit.table.current_view().height == 1
                    and app.cockpit.table.current_view()["state"][0] == "completed")
        row = app.cockpit.table.current_view().row(0, named=True)
        assert row["optim.lr"] == 0.02 and row["epochs_run"] == 3
        assert row["best_val_loss"] is not None and row["test_acc"] is not None
        assert len(app.cockpit.plot.series) == 2 and app.cockpit.plot.series[0].label == "#1 train"

    drive(app, script)


def test_an_invalid_field_blocks_starting_and_says_why(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        await type_into(pilot, app, "optim.lr", "-1")
        assert app.cockpit.form.config is None and "must be > 0" in app.cockpit.form.errors["optim.lr"]
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
        await until(pilot, lambda: bool(app.cockpit.live.running()) and app.cockpit.live.get(1).last("val_loss"))
        await pilot.press("ctrl+x")
        await until(pilot, lambda: store.trial(1).state is TrialState.CANCELLED)
        assert "cancelled by the user" in store.trial(1).reason

    drive(app, script)


def test_a_key_is_handled_while_a_trial_runs_and_the_trial_keeps_training(tmp_path: Path) -> None:
    # Counted, not timed (shared machines are noisy): the help opens and closes while a trial
    # trains, the trial's epochs keep arriving behind the dialog, and the cockpit's keys are
    # shadowed by it (ctrl+r in the help starts nothing).
    store = Store(tmp_path / "t.db")
    app = app_on(store, **{"optim.max_epochs": 100000, "early_stop.patience": 0})

    def epochs() -> int:
        live = app.cockpit.live.get(1)
        return live.count("val_loss") if live is not None else 0

    async def script(pilot: Pilot) -> None:
        app.cockpit.table.focus()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: epochs() >= 1)
        for _ in range(3):
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), 60)
            seen = epochs()
            await pilot.press("ctrl+r")  # a cockpit key: the help on top shadows it
            await until(pilot, lambda seen=seen: epochs() > seen)  # drained and drawn behind the dialog
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.cockpit, 60)
        assert store.count() == 1 and app.services.running() == [1]
        assert store.trial(1).state is TrialState.RUNNING
        await pilot.press("ctrl+x")
        await until(pilot, lambda: store.trial(1).state.is_finished)

    drive(app, script)


class BrokenExecutor:
    """Fakes a broken executor (a bug in one, or a worker that cannot start): every run raises."""

    def __init__(self) -> None:
        self.runs = 0

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event, sink: Sink, *,
            judge: Judge | None = None, threads: int | None = None) -> TrialFinished:
        self.runs += 1
        raise RuntimeError("boom")

    def shutdown(self) -> None:
        pass


def test_a_trial_whose_executor_raises_is_failed_and_the_cockpit_keeps_working(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    executor = BrokenExecutor()
    app = supervised_app(load_preset("toy2d-mlp").with_updates(FAST), store, executor)

    def states() -> list[str]:
        return sorted(app.cockpit.table.current_view()["state"].to_list())

    async def script(pilot: Pilot) -> None:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: store.count() == 1 and store.trial(1).state is TrialState.FAILED, 60)
        assert "boom" in (store.trial(1).reason or "")
        await until(pilot, lambda: states() == ["failed"], 60)
        assert app.cockpit.live.get(1) is None  # not running: drawn from the store
        await pilot.press("ctrl+r")  # not stuck: a second trial starts, and fails the same way
        await until(pilot, lambda: states() == ["failed", "failed"], 60)
        assert [t.state for t in store.trials()] == [TrialState.FAILED, TrialState.FAILED]
        assert all("boom" in (t.reason or "") for t in store.trials())
        assert executor.runs == 2 and not app.services.busy
        status = app.cockpit.query_one("#status", Static)
        await until(pilot, lambda: str(status.render()).startswith("idle"), 60)

    drive(app, script)


def test_keys_pressed_while_the_cockpit_is_built_do_not_crash(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def main() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            unbuilt = CockpitScreen(app.initial, app.services)
            assert unbuilt.check_action("start_trial", ()) is False  # its keys wait for the widgets
            assert unbuilt.check_action("parallel", (1,)) is False
            await pilot.press("ctrl+r", "ctrl+x", "l", "m", "t", "plus", "ctrl+t", "c", "v", "a")  # no pause
            await until(pilot, lambda: app.cockpit.ready, 60)
            await pilot.pause(0.3)
            assert app.screen is app.cockpit or app.screen.is_modal
    asyncio.run(main())


def test_sort_by_a_metric_column_failures_last(tmp_path: Path) -> None:
    store = scripted_store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        app.cockpit.table.focus()
        for _ in range(40):
            if app.cockpit.table.sort_column == "best_val_loss":
                break
            await pilot.press("s")
        assert app.cockpit.table.sort_column == "best_val_loss"
        view = app.cockpit.table.current_view()
        assert view["id"].to_list()[:2] == [1, 2]  # 0.22 before 0.6; failed/diverged after both
        assert set(view["id"].to_list()[2:]) == {3, 4}
        await pilot.press("r")
        assert app.cockpit.table.current_view()["id"].to_list()[:2] == [2, 1]

    drive(app, script)


def test_detail_view_and_clone_into_the_form(tmp_path: Path) -> None:
    store = scripted_store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        app.cockpit.table.focus()
        app.cockpit.table.move_to_trial(3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "ValueError: boom" in text and "failed" in text and "lr = 0.1" in text
        await pilot.press("c")  # clone from the detail view
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        await pilot.pause(0.2)
        assert app.cockpit.form.config is not None and app.cockpit.form.config.optim.lr == 0.1
        assert app.cockpit.form.editor("optim.lr").value == "0.1"
        app.cockpit.table.move_to_trial(2)
        await pilot.press("c")
        await pilot.pause(0.2)
        assert app.cockpit.form.config.optim.lr == 0.001

    drive(app, script)


def test_save_a_preset_and_load_it_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        await type_into(pilot, app, "optim.lr", "0.005")
        saved = app.cockpit.form.config
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        path_input = app.screen.query_one("#save-path", Input)
        path_input.value = "mine.toml"
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "mine.toml").exists())
        await type_into(pilot, app, "optim.lr", "0.3")
        assert app.cockpit.form.config.optim.lr == 0.3
        await pilot.press("ctrl+o")
        await pilot.pause(0.2)
        app.screen.query_one("#preset-path", Input).value = "mine.toml"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.cockpit.form.config == saved.with_updates({"name": "mine"}) or app.cockpit.form.config == saved

    drive(app, script)


def test_a_bad_preset_shows_the_engines_message_and_keeps_the_form(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("[optim]\nlr = -2\n")
    app = app_on(Store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        before = app.cockpit.form.config
        await pilot.press("ctrl+o")
        await pilot.pause(0.2)
        app.screen.query_one("#preset-path", Input).value = "bad.toml"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.cockpit.form.config == before
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
        app.cockpit.table.focus()
        app.cockpit.table.sort_by("best_val_loss")
        await pilot.press("e")
        await pilot.pause(0.2)
        from textual.widgets import Select

        app.screen.query_one("#export-format", Select).value = fmt
        await pilot.pause(0.1)
        app.screen.query_one("#export-path", Input).value = f"out{suffix}"
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / f"out{suffix}").exists(), 60)
        expected = app.cockpit.table.current_view()
        got = read_export(tmp_path / f"out{suffix}", fmt, TRIAL_SCHEMA)
        assert got["id"].to_list() == expected["id"].to_list()
        assert got.select(pl.col("optim.lr")).equals(expected.select(pl.col("optim.lr")))

    drive(app, script)


def test_reopening_shows_every_trial(tmp_path: Path) -> None:
    scripted_store(tmp_path / "t.db").close()
    app = app_on(Store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        assert sorted(app.cockpit.table.current_view()["id"].to_list()) == [1, 2, 3, 4]

    drive(app, script)


def test_small_terminal_switches_between_form_and_monitor(tmp_path: Path) -> None:
    app = app_on(scripted_store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        main = app.cockpit
        assert main.has_class("narrow")
        assert not app.cockpit.form.display or not main.query_one("#left").display
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
        app.cockpit.table.focus()
        await pilot.press("ctrl+r", "ctrl+r")
        await until(pilot, lambda: app.services.running() == [1])
        assert app.services.queued() == [2] and store.trial(2).state is TrialState.QUEUED
        await pilot.press("plus")
        await until(pilot, lambda: app.services.running() == [1, 2])
        assert app.services.parallel == 2 and store.supervisor_row().parallel == 2
        for trial_id in (1, 2):
            app.client.cancel(trial_id)
        await until(pilot, lambda: all(r.state is TrialState.CANCELLED for r in store.trials()))

    drive(app, script)
