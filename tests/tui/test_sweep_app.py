"""Sweeps from the cockpit, driven through Pilot as a user would: the dialog, the live status line,
pause and stop, the analysis view and compare. Trials train for real (thread executor, tiny model)."""
from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from engine.events import TrialState
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.store import Store
from engine.sweeps.preset_search import load_sweep
from engine.sweeps.spec import parse_search
from engine.sweeps.sweep import Sweep
from tests.tui.test_app import app_on, drive, until
from tui.screens.compare import CompareScreen
from tui.screens.sweep_analysis import SweepAnalysisScreen
from tui.screens.sweep_dialog import SweepDialog
from tui.widgets.importance_bars import ImportanceBars

SPACE = '"optim.lr" = { low = 1e-3, high = 0.3, log = true }\n"model.hidden" = [[4], [16]]\n'


async def fill_dialog(pilot: Pilot, *, trials: str, parallel: str = "1", space: str = SPACE,
                      strategy: str = "random", pruner: str = "none") -> SweepDialog:
    await pilot.press("ctrl+g")
    await until(pilot, lambda: isinstance(pilot.app.screen, SweepDialog), 60)
    dialog = pilot.app.screen
    assert isinstance(dialog, SweepDialog)
    dialog.query_one("#sweep-strategy", Select).value = strategy
    dialog.query_one("#sweep-pruner", Select).value = pruner
    dialog.query_one("#sweep-trials", Input).value = trials
    dialog.query_one("#sweep-parallel", Input).value = parallel
    dialog.query_one("#sweep-seed", Input).value = "3"
    dialog.query_one("#sweep-space", TextArea).text = space
    await pilot.pause(0.1)
    return dialog


async def two_point_grid(pilot: Pilot, store: Store) -> None:
    """A two-trial grid over the learning rate, started from the dialog and waited for."""
    await fill_dialog(pilot, trials="2", space='"optim.lr" = [0.01, 0.1]\n', strategy="grid")
    await pilot.press("ctrl+g")
    await until(pilot, lambda: bool(store.sweeps()) and store.sweeps()[-1].state == "completed")


def test_a_sweep_from_the_dialog_runs_and_the_importance_view_fills(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        await fill_dialog(pilot, trials="5")
        await pilot.press("ctrl+g")  # start
        await until(pilot, lambda: not isinstance(app.screen, SweepDialog), 60)
        status = app.cockpit.query_one("#sweep-status", Static)
        assert status.has_class("on")
        await until(pilot, lambda: bool(store.sweeps()) and store.sweeps()[-1].state == "completed")
        await until(pilot, lambda: "5/5 done" in str(status.render()), 60)
        sweep = store.sweeps()[-1]
        assert sweep.state == "completed" and sweep.planned == 5 and sweep.done == 5
        trials = [t for t in store.trials() if t.sweep_id == sweep.id]
        assert len(trials) == 5 and all(t.state.is_finished for t in trials)
        assert {tuple(t.config["model"]["hidden"]) for t in trials} <= {(4,), (16,)}
        await until(pilot, lambda: app.cockpit.table.current_view().height == 5, 60)
        assert app.focused is app.cockpit.table  # starting a sweep hands the keys to the table, to watch it
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, SweepAnalysisScreen), 60)
        bars = app.screen.query_one(ImportanceBars)
        await until(pilot, lambda: "optim.lr" in str(bars.render()) and "%" in str(bars.render()), 60)
        assert "model.hidden" in str(bars.render())

    drive(app, script)


def test_a_bad_search_table_is_refused_in_the_dialog_and_nothing_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        dialog = await fill_dialog(pilot, trials="4", space='"optim.lr" = { low = 0.1, high = 0.01 }\n')
        await pilot.press("ctrl+g")
        await pilot.pause(0.2)
        assert app.screen is dialog
        error = str(dialog.query_one("#sweep-error", Label).render())
        assert "search.optim.lr" in error and "low <= high" in error
        dialog.query_one("#sweep-space", TextArea).text = '"optim.lrr" = [0.1]\n'
        await pilot.press("ctrl+g")
        await pilot.pause(0.2)
        assert "did you mean 'optim.lr'" in str(dialog.query_one("#sweep-error", Label).render())
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert store.sweeps() == [] and store.trials() == []

    drive(app, script)


def test_pause_then_stop_a_sweep_from_the_keyboard(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    # Trials long enough to be still running when X is pressed, however fast the machine.
    app = app_on(store, **{"optim.max_epochs": 100_000, "early_stop.patience": 0})

    async def script(pilot: Pilot) -> None:
        await fill_dialog(pilot, trials="6")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: any(t.sweep_id for t in store.trials() if t.state is TrialState.RUNNING), 60)
        app.cockpit.table.focus()
        await pilot.press("p")
        await until(pilot, lambda: store.sweeps()[-1].state == "paused", 60)
        await pilot.press("X")
        await pilot.press("y")
        await until(pilot, lambda: store.sweeps()[-1].state == "stopped", 60)
        sweep = store.sweeps()[-1]
        trials = [t for t in store.trials() if t.sweep_id == sweep.id]
        assert trials and not any(t.state in (TrialState.RUNNING, TrialState.QUEUED) for t in trials)
        assert any(t.state == TrialState.CANCELLED and "sweep" in (t.reason or "") for t in trials)
        assert sweep.done < 6

    drive(app, script)


def test_compare_two_selected_trials(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        await two_point_grid(pilot, store)
        await until(pilot, lambda: app.cockpit.table.current_view().height == 2, 60)
        app.cockpit.table.focus()
        await pilot.press("v")  # nothing selected: says how
        await pilot.pause(0.1)
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("home", "space", "down", "space", "v")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), 60)
        keys = [d.key for d in app.screen.diffs]
        assert "optim.lr" in keys and "optim.batch_size" not in keys
        assert any("#1" in name for name in app.screen.legend) and any("#2" in name for name in app.screen.legend)

    drive(app, script)


def test_save_the_form_with_the_sweeps_search_and_sweep_it_headless_later(tmp_path: Path,
                                                                          monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        await two_point_grid(pilot, store)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(app.screen.query("#save-search")), 60)
        assert app.screen.query_one("#save-search", Checkbox).value is True
        assert "[search]" in str(app.screen.query_one("#save-search", Checkbox).label)  # not eaten as markup
        app.screen.query_one("#save-path", Input).value = "mine.toml"
        await pilot.press("ctrl+s")  # inside the dialog the cockpit's ctrl+s must not open a second one
        await pilot.pause(0.2)
        assert len(app.screen_stack) == 2
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "mine.toml").exists(), 60)

    drive(app, script)
    config, spec = load_sweep(tmp_path / "mine.toml")
    assert spec.strategy == "grid" and spec.keys() == ["optim.lr"] and spec.planned == 2
    assert config.optim.max_epochs == 4  # the form's config, as the sweep varied it


def test_resume_a_stopped_sweep_from_the_cockpit(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)
    base = app.initial
    spec = parse_search({"strategy": "grid", "optim.lr": [0.1, 0.03, 0.01]}, base)
    stopped: list = []
    sweep = Sweep(store, base, spec, TrialPool(store, ThreadExecutor(), parallel=0),
                  on_trial=lambda *_: stopped[0].stop("stopped last week"))  # stops after its first trial
    stopped.append(sweep)
    assert sweep.run() == "stopped"

    async def script(pilot: Pilot) -> None:
        app.cockpit.table.focus()
        await pilot.press("R")
        await until(pilot, lambda: store.sweep(sweep.id).state == "completed", 60)
        lrs = sorted(t.config["optim"]["lr"] for t in store.trials(sweep_id=sweep.id))
        assert lrs == [0.01, 0.03, 0.1]  # the two points it had not run, and the first one once
        await pilot.press("R")  # nothing left to resume: says so, starts nothing
        await pilot.pause(0.2)
        assert len(store.trials(sweep_id=sweep.id)) == 3

    drive(app, script)


def test_the_dialog_keeps_settings_it_has_no_field_for_and_tab_moves_between_fields(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)
    app.search = {"strategy": "random", "trials": 3, "warmup_epochs": 4, "placement": "free_memory",
                  "name": "mine", "optim.lr": [0.1, 0.01]}

    async def script(pilot: Pilot) -> None:
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(app.screen, SweepDialog), 60)
        dialog = app.screen
        dialog.query_one("#sweep-trials", Input).focus()
        await pilot.press("tab")
        assert app.focused is dialog.query_one("#sweep-parallel", Input)
        table = dialog.current_table()
        assert (table["warmup_epochs"], table["placement"], table["name"], table["trials"]) == (4, "free_memory",
                                                                                                "mine", 3)
        await pilot.press("escape")

    drive(app, script)
