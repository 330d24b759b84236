"""The learning-rate probe from the cockpit (L): it runs for real in a child process that a worker reads,
draws, and Enter puts the suggestion into the form's optim.lr; a probe that cannot run, or whose child
crashes, says why, without a traceback; Escape kills the child."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from engine.config.presets import load_preset
from engine.store import Store
from engine.training.lr_probe import ProbeSettings
from tests.tui.supervised import supervised_app
from tests.tui.test_app import until
from tui.app import TunedeckApp
from tui.screens.lr_find import LrFindScreen, form_rate
from tui.widgets.lr_plot import LrPlot

FAST = {"task.n_samples": 300, "run.device": "cpu"}
PLUGINS = Path(__file__).resolve().parents[1] / "engine" / "plugins"


def drive(app: TunedeckApp, script: Callable[[Pilot], object]) -> None:
    async def main() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.cockpit.ready)
            await script(pilot)  # type: ignore[misc]
    asyncio.run(main())


def test_the_probe_runs_on_the_forms_config_and_enter_puts_its_suggestion_into_optim_lr(store: Store) -> None:
    app = supervised_app(load_preset("toy2d-mlp").with_updates(FAST), store)

    async def script(pilot: Pilot) -> None:
        form = app.cockpit.form
        assert form.config is not None and form.config.optim.lr == 0.01
        await pilot.press("L")
        screen = app.screen
        assert isinstance(screen, LrFindScreen)
        await until(pilot, lambda: not screen.running)
        finding = screen.finding
        assert finding is not None and finding.suggested is not None, screen.error
        status = str(screen.query_one("#lr-status", Static).render())
        assert status.startswith("suggested lr ")
        plot = screen.query_one(LrPlot)
        await pilot.pause(0.2)
        assert plot.last_chart is not None and plot.last_chart.text and "suggested" in plot.last_chart.title
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, LrFindScreen), 10)
        expected = form_rate(finding.suggested)
        assert expected != 0.01
        assert form.config is not None and form.config.optim.lr == expected
        editor = form.editor("optim.lr")
        assert isinstance(editor, Input) and float(editor.value) == expected
        assert store.trials() == []  # the probe is not a trial

    drive(app, script)


def test_a_probe_that_cannot_run_says_why_and_escape_leaves_the_form_alone(store: Store, tmp_path: object) -> None:
    config = load_preset("surnames-mlp", ["task.path=/nonexistent/names.csv"])
    app = supervised_app(config, store)

    async def script(pilot: Pilot) -> None:
        await pilot.press("L")
        screen = app.screen
        assert isinstance(screen, LrFindScreen)
        await until(pilot, lambda: not screen.running)
        assert screen.finding is None and screen.error is not None and "names.csv" in screen.error
        status = str(screen.query_one("#lr-status", Static).render())
        assert status.startswith("cannot probe: ") and "Traceback" not in status
        await pilot.press("enter")  # nothing to use: the screen stays and says so
        await pilot.pause(0.2)
        assert app.screen is screen
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LrFindScreen), 10)
        assert app.cockpit.form.config is not None and app.cockpit.form.config.optim.lr == config.optim.lr

    drive(app, script)


def test_a_long_probe_draws_as_it_runs_and_escape_stops_it(store: Store) -> None:
    app = supervised_app(load_preset("toy2d-mlp").with_updates(FAST), store)

    async def script(pilot: Pilot) -> None:
        screen = LrFindScreen(app.cockpit.form.config, ProbeSettings(start=1e-7, end=1e-3, steps=100_000))
        app.push_screen(screen)
        await until(pilot, lambda: len(screen.points) > 50)
        await pilot.pause(0.5)  # a tick or two: the points so far are drawn while the worker goes on
        status = str(screen.query_one("#lr-status", Static).render())
        assert status.startswith("probing: step ") and status.endswith("of 100000")
        chart = screen.query_one(LrPlot).last_chart
        assert chart is not None and chart.text and "probing" in chart.title
        worker = next(w for w in app.workers if w.group == "lr-probe")
        assert not worker.is_finished
        await pilot.press("L")  # a second L while one runs: the same screen, the same single child
        await pilot.pause(0.2)
        assert app.screen is screen and [w.group for w in app.workers].count("lr-probe") == 1
        await pilot.press("escape")
        await until(pilot, lambda: worker.is_finished, 30)
        assert screen.cancel.is_set() and len(screen.points) < 100_000
        assert not isinstance(app.screen, LrFindScreen)
        assert screen.child is not None and not screen.child.process.is_alive()  # Escape killed the child
        assert screen.child.process.exitcode == -9

    drive(app, script)


def test_a_plugin_that_crashes_the_probes_process_is_reported_and_the_cockpit_goes_on(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PLUGINS)  # the child imports the plugin from the cockpit's working directory
    config = load_preset("toy2d-mlp").with_updates({**FAST, "task.name": "tunedeck_test_exits:segfault"})
    app = supervised_app(config, store)

    async def script(pilot: Pilot) -> None:
        await pilot.press("L")
        screen = app.screen
        assert isinstance(screen, LrFindScreen)
        await until(pilot, lambda: not screen.running)
        assert screen.error is not None and "was killed by signal SIGSEGV" in screen.error, screen.error
        status = str(screen.query_one("#lr-status", Static).render())
        assert status.startswith("cannot probe: the probe's process") and "Traceback" not in status
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LrFindScreen), 10)
        await pilot.press("L")  # the cockpit still works: a second probe opens
        assert isinstance(app.screen, LrFindScreen) and app.screen is not screen

    drive(app, script)


def test_the_screen_and_the_childs_parent_side_never_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, tui.screens.lr_find, engine.execution.probe_child; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
