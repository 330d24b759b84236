"""A multi-objective sweep in the cockpit: the trial table marks its front trials (◆ after the name); the
analysis screen opens on its two objectives' scatter with the
Pareto front joined and marked, the header lists the front's trials, `o` toggles the knobs' view.
Trials train for real (thread executor, tiny models)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Select

from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.store import Store
from engine.sweeps.results import load_results
from engine.sweeps.spec import SearchSpec, parse_search
from engine.sweeps.sweep import Sweep
from engine.tables.frames import trial_frame
from tests.tui.test_app import app_on, until
from tests.tui.test_app import drive as app_drive
from tests.tui.test_sweep_views import BASE, drive, loaded, shown
from tui.front_marks import MARK, FrontMarks
from tui.plotting.pareto import FRONT_MARKER
from tui.screens.sweep_analysis import SweepAnalysisScreen
from tui.screens.sweep_dialog import SweepDialog
from tui.widgets.param_scatter import ParamScatter
from tui.widgets.trial_table import TrialTable

SEARCH = {"strategy": "random", "trials": 6, "seed": 2, "metric": ["val_loss", "params"],
          "optim.lr": {"low": 1e-3, "high": 0.1, "log": True}, "model.hidden": [[2], [8], [32]]}


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Sweep]]:
    with Store(tmp_path_factory.mktemp("pareto") / "t.db") as store:
        sweep = Sweep(store, BASE, parse_search(SEARCH, BASE), TrialPool(store, ThreadExecutor(), parallel=0))
        sweep.run()
        yield store, sweep


def test_the_trial_table_marks_the_front_trials_after_their_names(swept: tuple[Store, Sweep]) -> None:
    store, sweep = swept
    marks = FrontMarks(store)
    frame = marks.apply(trial_frame(store.trials()))
    marked = {row["id"] for row in frame.iter_rows(named=True) if row["name"].endswith(MARK)}
    assert marked == set(sweep.front) and 0 < len(marked) < 6
    assert all(row["name"] == store.trial(row["id"]).name for row in frame.iter_rows(named=True)
               if row["id"] not in marked)
    assert marks.ids([sweep.id]) == frozenset(marked)  # read again from its cache: the sweep has not changed


def test_the_analysis_of_a_two_objective_sweep_draws_its_front(swept: tuple[Store, Sweep]) -> None:
    store, sweep = swept
    results = load_results(store, sweep.id)
    front = [p.trial_id for p in results.front]
    assert front and sorted(front) == sorted(sweep.front)  # the live sweep and the store agree

    async def script(pilot: Pilot, screen: Screen) -> None:
        assert isinstance(screen, SweepAnalysisScreen)
        await loaded(pilot, screen)
        scatter = screen.query_one(ParamScatter)
        await pilot.pause(0.1)
        assert scatter.front and scatter.title_text == "Pareto front: params (minimize) vs val_loss (minimize)"
        chart = scatter.last_chart
        assert chart is not None and chart.text and FRONT_MARKER in chart.text
        assert f"front of {len(front)} of 6" in chart.text
        header = shown(screen.query_one("#analysis-best"))
        assert header.startswith(f"Pareto front of {len(front)} of 6:")
        marked = [int(part.split()[0]) for part in header.split("◆ #")[1:]]
        assert marked == front  # each front trial marked, in the order of the first objective
        await pilot.press("o")
        await pilot.pause(0.1)
        assert not scatter.front and scatter.title_text.startswith("val_loss (minimize) vs ")
        await pilot.press("o")
        await pilot.pause(0.1)
        assert scatter.front

    drive(lambda: SweepAnalysisScreen(store, sweep.id), script, size=(100, 36))


def test_the_sweep_dialog_keeps_a_presets_list_of_metrics() -> None:
    table = {"strategy": "random", "trials": 3, "metric": ["val_loss", "params"], "direction": ["minimize", "minimize"],
             "optim.lr": {"low": 1e-3, "high": 0.1, "log": True}}
    got: list[SearchSpec | None] = []

    async def script(pilot: Pilot, screen: Screen) -> None:
        assert isinstance(screen, SweepDialog)
        metric = screen.query_one("#sweep-metric", Select)
        assert metric.disabled and metric.value == "val_loss, params"
        screen.query_one("#sweep-trials", Input).value = "4"
        spec = parse_search(screen.current_table(), BASE)
        got.append(spec)

    drive(lambda: SweepDialog(BASE, table), script)
    (spec,) = got
    assert spec is not None and spec.goals == (("val_loss", "minimize"), ("params", "minimize")) and spec.trials == 4


def test_the_cockpits_trial_table_shows_the_mark(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    sweep = Sweep(store, BASE, parse_search(SEARCH, BASE), TrialPool(store, ThreadExecutor(), parallel=0))
    sweep.run()
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        table = app.cockpit.query_one(TrialTable)
        await until(pilot, lambda: table.current_view().height == 6, 30)
        names = dict(zip(table.current_view()["id"].to_list(), table.current_view()["name"].to_list()))
        assert {i for i, name in names.items() if name.endswith(MARK)} == set(sweep.front)

    app_drive(app, script)
