"""The sweep analysis and trial comparison screens in a tiny host app, and their pure parts.

One real sweep (four tiny toy2d trials, a few seconds) is trained once for the module; the
cases about progress, empty sweeps and comparisons use scripted trials (real Store, hand-made
events), which are instant and exact.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.app import App
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

from engine.config.groups import Config
from engine.events import EpochEnded, Summary, TrialFinished, TrialStarted, TrialState
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.store import Store
from engine.sweeps.results import load_results
from engine.sweeps.spec import parse_search
from engine.sweeps.sweep import Sweep
from tests.tui.scripted import ENV
from tests.tui.test_app import until
from tui.plotting.scatter import (
    NO_TRIALS,
)
from tui.screens.compare import NO_DIFFERENCE, NOT_USED, CompareScreen, differing_knobs
from tui.screens.sweep_analysis import SweepAnalysisScreen
from tui.widgets.importance_bars import ImportanceBars
from tui.widgets.param_scatter import ParamScatter

BASE = Config.from_dict({"task": {"name": "toy2d", "n_samples": 200}, "model": {"hidden": [8]},
                         "optim": {"max_epochs": 2}, "run": {"device": "cpu"}})
# importance_min_trials = 2: these sweeps are 3 or 4 trials, fANOVA judges them (PED-ANOVA needs 20)
SEARCH = {"strategy": "random", "trials": 4, "seed": 0, "importance_min_trials": 2, "optim.lr": {"low": 1e-4, "high": 0.1, "log": True},
          "model.hidden": [[8], [16]], "reg.dropout": {"low": 0.0, "high": 0.4}}


# --- helpers -------------------------------------------------------------------------------------

class Host(App[None]):
    """Pushes one screen at start, as the cockpit would."""

    CSS_PATH = Path(__file__).parents[2] / "tui" / "styles.tcss"  # the cockpit's, which sizes the screens

    def __init__(self, make: Callable[[], Screen]) -> None:
        super().__init__()
        self.make = make

    def on_mount(self) -> None:
        self.push_screen(self.make())


def drive(make: Callable[[], Screen], script: Callable[[Pilot, Screen], Awaitable[None]],
          size: tuple[int, int] = (120, 36)) -> None:
    async def main() -> None:
        app = Host(make)
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.1)
            await script(pilot, app.screen)
    asyncio.run(main())


async def loaded(pilot: Pilot, screen: SweepAnalysisScreen, loads: int = 1) -> None:
    await until(pilot, lambda: screen.loads >= loads and not screen._loading)
    await pilot.pause(0.05)


def shown(widget: Widget) -> str:
    """The widget's lines as Textual composes them for the screen."""
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, *widget.size)))


def percentages(lines: list[str]) -> list[float]:
    return [float(m.group(1)) for line in lines if (m := re.search(r"(\d+\.\d)%$", line.rstrip()))]


def scripted_sweep(store: Store, search: dict | None = None) -> int:
    spec = parse_search(search or SEARCH, BASE)
    return store.create_sweep("scripted", spec.to_dict(), BASE.to_dict(), spec.planned)


def add_trial(store: Store, updates: dict, losses: list[float], state: TrialState = TrialState.COMPLETED,
              sweep_id: int | None = None) -> int:
    """A trial with these val losses per epoch, ended in `state`."""
    config = BASE.with_updates(updates)
    trial_id = store.create_trial(config, sweep_id=sweep_id)
    store.start_trial(trial_id, TrialStarted("cpu", 65, 150, 30, 20, 3, "binary", 1), ENV)
    for epoch, loss in enumerate(losses, 1):
        store.record(trial_id, EpochEnded(epoch, 3 * epoch, loss * 1.2, loss, 1 - loss / 2, config.optim.lr, 0.01,
                                          improved=loss == min(losses[:epoch])))
    best = min(losses) if losses else None
    store.record(trial_id, TrialFinished(state, "scripted", Summary(1, best, None, None, None, len(losses),
                                                                    3 * len(losses)), 0.5))
    return trial_id


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, int]]:
    """A real sweep of four tiny trials, trained once for the module."""
    with Store(tmp_path_factory.mktemp("sweep") / "trials.db") as store:
        sweep = Sweep(store, BASE, parse_search(SEARCH, BASE), TrialPool(store, ThreadExecutor(), parallel=0))
        sweep.run()
        yield store, sweep.id


# --- the analysis screen ------------------------------------------------------------------------

def test_a_real_sweep_shows_every_varied_knob_with_shares_summing_to_100(swept: tuple[Store, int]) -> None:
    store, sweep_id = swept

    async def script(pilot: Pilot, screen: SweepAnalysisScreen) -> None:
        await loaded(pilot, screen)
        bars = screen.query_one(ImportanceBars)
        assert {key for key, _ in bars.shares} == set(SEARCH) - {"strategy", "trials", "seed", "importance_min_trials"}
        lines = shown(bars).splitlines()
        for key in ("optim.lr", "model.hidden", "reg.dropout"):
            assert any(line.startswith(key) for line in lines), lines
        assert abs(sum(percentages(lines)) - 100) < 0.3, lines
        assert "4 of 4 done: 4 completed, 0 pruned, 0 failed" in screen.progress
        best = load_results(store, sweep_id).best
        assert best is not None and f"trial #{best.trial_id}" in shown(screen.query_one("#analysis-best"))
        title = shown(screen.query_one("#analysis-title"))
        assert f"sweep {sweep_id}" in title and "random" in title and "completed" in title
        # legible at 80x24: every bar on its line, the scatter drawn with room for its axes
        assert bars.size.height == 4 and all(len(line.rstrip()) <= bars.size.width for line in lines)
        scatter = screen.query_one(ParamScatter)
        assert scatter.size.height >= 10 and scatter.last_chart is not None and scatter.last_chart.text
        await pilot.press("g")
        await pilot.pause(0.05)
        assert scatter.last_chart is not None and scatter.last_chart.text is not None
        assert all(key in shown(scatter) for key in ("optim.lr", "model.hidden", "reg.dropout"))

    drive(lambda: SweepAnalysisScreen(swept[0], swept[1]), script, size=(80, 24))


def test_cycling_knobs_changes_the_scatter_and_g_draws_the_grid(swept: tuple[Store, int]) -> None:
    async def script(pilot: Pilot, screen: SweepAnalysisScreen) -> None:
        await loaded(pilot, screen)
        scatter = screen.query_one(ParamScatter)
        assert screen.key == screen.keys[0]
        titles = [scatter.title_text]
        for key in ("right", "right_square_bracket", "right"):
            await pilot.press(key)
            titles.append(scatter.title_text)
        assert len(set(titles[:3])) == 3 and titles[3] == titles[0]  # three knobs, then round again
        await pilot.press("left")
        assert scatter.title_text == titles[2]
        await pilot.press("left_square_bracket")
        assert scatter.title_text == titles[1]
        await pilot.pause(0.05)
        assert scatter.title_text.split(" vs ")[1] in shown(scatter).splitlines()[0]

        await pilot.press("g")
        await pilot.pause(0.05)
        text = shown(scatter)
        assert scatter.grid and scatter.last_chart is not None and scatter.last_chart.text is not None
        assert "vs each knob" in text.splitlines()[0]
        for key in ("optim.lr", "model.hidden", "reg.dropout"):
            assert key in text
        await pilot.press("l")
        await pilot.pause(0.05)
        assert "(log y)" in shown(scatter).splitlines()[0]
        await pilot.press("g")
        await pilot.pause(0.05)
        assert not scatter.grid and "log y" in shown(scatter).splitlines()[0]
        await pilot.press("q")
        await pilot.pause(0.05)
        assert not isinstance(pilot.app.screen, SweepAnalysisScreen)

    drive(lambda: SweepAnalysisScreen(swept[0], swept[1]), script)


@pytest.mark.parametrize("case", ["nothing finished", "one finished", "all pruned or failed", "no sweep"])
def test_a_sweep_without_two_completed_trials_explains_instead_of_crashing(store: Store, case: str) -> None:
    sweep_id = scripted_sweep(store)
    if case == "one finished":
        add_trial(store, {"optim.lr": 0.01}, [0.5, 0.4], sweep_id=sweep_id)
    elif case == "all pruned or failed":
        add_trial(store, {"optim.lr": 0.01}, [0.5], TrialState.PRUNED, sweep_id=sweep_id)
        add_trial(store, {"optim.lr": 0.02}, [], TrialState.FAILED, sweep_id=sweep_id)
    elif case == "nothing finished":
        trial_id = store.create_trial(BASE, sweep_id=sweep_id)
        store.start_trial(trial_id, TrialStarted("cpu", 65, 150, 30, 20, 3, "binary", 1), ENV)
    asked = sweep_id + 1 if case == "no sweep" else sweep_id

    async def script(pilot: Pilot, screen: SweepAnalysisScreen) -> None:
        if case == "no sweep":
            await until(pilot, lambda: screen.error is not None)
        else:
            await loaded(pilot, screen)
        for key in ("right", "g", "left", "l", "g"):
            await pilot.press(key)
        await pilot.pause(0.05)
        bars = shown(screen.query_one(ImportanceBars))
        plot = shown(screen.query_one(ParamScatter))
        if case == "no sweep":
            assert f"no sweep with id {asked}" in screen.progress and screen.error
            return
        assert "importance needs two completed trials that differ" in bars
        if case == "one finished":  # one point is still worth a plot
            scatter = screen.query_one(ParamScatter)
            assert scatter.last_chart is not None and scatter.last_chart.text is not None
        else:
            assert NO_TRIALS in plot
        expected = {"nothing finished": "0 of 4 done: 0 completed, 0 pruned, 0 failed, 1 running",
                    "one finished": "1 of 4 done: 1 completed",
                    "all pruned or failed": "2 of 4 done: 0 completed, 1 pruned, 1 failed"}[case]
        assert expected in screen.progress

    drive(lambda: SweepAnalysisScreen(store, asked), script)


def test_refresh_results_shows_trials_that_finished_since(store: Store) -> None:
    sweep_id = scripted_sweep(store)
    add_trial(store, {"optim.lr": 0.001, "model.hidden": [8]}, [0.6, 0.5], sweep_id=sweep_id)

    async def script(pilot: Pilot, screen: SweepAnalysisScreen) -> None:
        await loaded(pilot, screen)
        assert screen.progress.startswith("1 of 4 done") and not screen.scores
        screen.refresh_results()  # nothing ended: no second read
        await pilot.pause(0.1)
        assert screen.loads == 1
        add_trial(store, {"optim.lr": 0.05, "model.hidden": [16]}, [0.3, 0.1], sweep_id=sweep_id)
        add_trial(store, {"optim.lr": 0.0002, "model.hidden": [8]}, [0.7, 0.65], sweep_id=sweep_id)
        add_trial(store, {"optim.lr": 0.01}, [0.9], TrialState.PRUNED, sweep_id=sweep_id)
        screen.refresh_results()
        assert screen.progress == "4 of 4 done: 3 completed, 1 pruned, 0 failed"  # at once
        await loaded(pilot, screen, 2)
        assert {key for key, _ in screen.query_one(ImportanceBars).shares} == {"optim.lr", "model.hidden"}
        assert "in trial #2" in shown(screen.query_one("#analysis-best"))

    drive(lambda: SweepAnalysisScreen(store, sweep_id), script)


# --- the compare screen -------------------------------------------------------------------------

def test_compare_shows_exactly_the_differing_knobs_and_names_both_trials(store: Store) -> None:
    # channels differ but apply to neither MLP; batch_size is equal: neither is shown.
    a = add_trial(store, {"optim.lr": 0.01, "model.hidden": [16], "model.channels": 64}, [0.6, 0.4, 0.3])
    b = add_trial(store, {"optim.lr": 0.001, "model.hidden": [32, 16], "model.channels": 128}, [0.7, 0.6])

    async def script(pilot: Pilot, screen: CompareScreen) -> None:
        await pilot.pause(0.3)
        assert [d.key for d in screen.diffs] == ["model.hidden", "optim.lr"]
        assert (screen.diffs[0].a, screen.diffs[0].b) == ("[16]", "[32, 16]")
        knobs = shown(screen.query_one("#compare-knobs"))
        assert "optim.lr" in knobs and "batch_size" not in knobs and "channels" not in knobs
        summary = shown(screen.query_one("#compare-summary"))
        assert "completed" in summary and "0.3" in summary and "0.6" in summary
        assert screen.legend == [f"#{a} train", f"#{a} val", f"#{b} train", f"#{b} val"]
        legend = shown(screen.query_one("#compare-legend"))
        assert f"#{a} train" in legend and f"#{b} val" in legend
        plot = screen.query_one("#compare-plot")
        assert len(plot.series) == 4 and len({s.color for s in plot.series}) == 4
        assert f"#{a} vs #{b}: loss" in shown(plot).splitlines()[0]
        await pilot.press("l")
        await pilot.pause(0.4)
        assert "log y" in shown(plot).splitlines()[0]
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert not isinstance(pilot.app.screen, CompareScreen)

    drive(lambda: CompareScreen(store, a, b), script, size=(80, 24))


def test_compare_of_equal_configs_and_of_a_missing_trial(store: Store) -> None:
    a = add_trial(store, {"optim.lr": 0.01}, [0.5, 0.4])
    b = add_trial(store, {"optim.lr": 0.01}, [])

    async def same(pilot: Pilot, screen: CompareScreen) -> None:
        await pilot.pause(0.3)
        assert screen.diffs == [] and NO_DIFFERENCE in shown(screen.query_one("#compare-knobs"))
        assert screen.legend == [f"#{a} train", f"#{a} val"]  # b logged no epoch

    async def missing(pilot: Pilot, screen: CompareScreen) -> None:
        await pilot.pause(0.2)
        assert screen.error is not None and "no trial with id 99" in shown(screen.query_one("#compare-title"))

    drive(lambda: CompareScreen(store, a, b), same)
    drive(lambda: CompareScreen(store, a, 99), missing, size=(80, 24))


def test_a_knob_that_applies_to_one_trial_only_reads_not_used() -> None:
    sgd = BASE.with_updates({"optim.optimizer": "sgd", "optim.momentum": 0.9}).to_dict()
    adam = BASE.with_updates({"optim.optimizer": "adam"}).to_dict()
    diffs = {d.key: (d.a, d.b) for d in differing_knobs(sgd, adam)}
    assert diffs["optim.optimizer"] == ("sgd", "adam")
    assert diffs["optim.momentum"] == ("0.9", NOT_USED)


def test_numbers_that_print_alike_are_shown_in_full_and_odd_configs_still_compare() -> None:
    a = BASE.with_updates({"optim.lr": 0.0010001}).to_dict()
    b = BASE.with_updates({"optim.lr": 0.001}).to_dict()
    assert [(d.a, d.b) for d in differing_knobs(a, b)] == [("0.0010001", "0.001")]
    old = {"optim": {"lr": 0.1, "retired_knob": 3}, "model": {"hidden": [8]}}
    new = {"optim": {"lr": 0.1, "retired_knob": 4}, "model": {"hidden": [8]}}
    assert [d.key for d in differing_knobs(old, new)] == ["optim.retired_knob"]
