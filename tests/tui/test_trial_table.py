"""The trial table driven like a user would: keys, clicks, live frames, and a 100k-trial store."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import polars as pl
import pytest
from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot

from engine.config.groups import Config
from engine.events import EpochEnded, StepLoss, Summary, TrialFinished, TrialStarted, TrialState
from engine.store import Store
from engine.tables.frames import trial_frame
from tui.widgets.trial_table import GAP, GUTTER, SELECTED_MARK, TrialTable

SIZE = (100, 30)


class Host(App[None]):
    """The table alone on a screen, recording every message it posts."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield TrialTable(id="trials")

    def on_trial_table_highlighted(self, message: TrialTable.Highlighted) -> None:
        self.messages.append(message)

    def on_trial_table_selection_changed(self, message: TrialTable.SelectionChanged) -> None:
        self.messages.append(message)

    def on_trial_table_open_requested(self, message: TrialTable.OpenRequested) -> None:
        self.messages.append(message)

    def on_trial_table_sort_changed(self, message: TrialTable.SortChanged) -> None:
        self.messages.append(message)

    def on_trial_table_filter_changed(self, message: TrialTable.FilterChanged) -> None:
        self.messages.append(message)

    def of(self, kind: type[Message]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]


Scenario = Callable[[Pilot[None], TrialTable, Host], Awaitable[None]]


def drive(frame: pl.DataFrame | None, scenario: Scenario) -> None:
    async def main() -> None:
        app = Host()
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one(TrialTable)
            table.focus()
            if frame is not None:
                table.set_frame(frame)
            await pilot.pause()
            await scenario(pilot, table, app)

    asyncio.run(main())


def _feed(store: Store, config: dict[str, Any], *, state: TrialState | None, loss: float | None,
          epochs: int = 2, start: bool = True, seconds: float = 1.25) -> int:
    """A trial as the runner would store it; state None leaves it running with no epoch yet."""
    tid = store.create_trial(Config.from_dict(config))
    if not start:
        return tid
    store.start_trial(tid, TrialStarted(device="cpu", n_params=10, n_train=70, n_val=15, n_test=15,
                                        steps_per_epoch=1, problem="binary", threads=1), {"pid": 1})
    if state is None:
        return tid
    for e in range(1, epochs + 1):
        store.record(tid, StepLoss(epoch=e, step=e, loss=1.0 / e))
        store.record(tid, EpochEnded(epoch=e, step=e, train_loss=1.0 / e, val_loss=1.0 / e, val_acc=0.5,
                                     lr=0.01, seconds=0.1, improved=True))
    summary = Summary(best_epoch=epochs, best_val_loss=loss, val_acc_at_best=0.75, test_loss=loss, test_acc=0.7,
                      epochs_run=epochs, steps=epochs)
    store.record(tid, TrialFinished(state=state, reason="test", summary=summary, seconds=seconds))
    return tid



@pytest.fixture
def trials(store: Store) -> dict[str, int]:
    """Names to ids: ok trials with distinct losses, two failures with the best losses, two without."""
    ids = {
        "slow": _feed(store, {"name": "slow", "optim": {"lr": 0.001}}, state=TrialState.COMPLETED, loss=0.3,
                      seconds=245.0),
        "fast": _feed(store, {"name": "fast", "optim": {"lr": 0.01}}, state=TrialState.COMPLETED, loss=0.1),
        "mid": _feed(store, {"name": "mid", "optim": {"lr": 0.1}}, state=TrialState.EARLY_STOPPED, loss=0.2),
        "boom": _feed(store, {"name": "boom"}, state=TrialState.FAILED, loss=0.05),
        "nan": _feed(store, {"name": "nan"}, state=TrialState.DIVERGED, loss=0.01),
        "live": _feed(store, {"name": "live"}, state=None, loss=None),
        "waiting": _feed(store, {"name": "waiting"}, state=None, loss=None, start=False),
        "ok": _feed(store, {"name": "ok", "optim": {"lr": 0.01}}, state=TrialState.COMPLETED, loss=0.25),
    }
    return ids


def rendered(table: TrialTable) -> list[str]:
    """The text of every line on screen, header first, as `render_line` draws it."""
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


def cell(table: TrialTable, line: str, key: str) -> str:
    """One column's text in a rendered line, found from the column widths (no horizontal scroll)."""
    x = GUTTER
    for column in table.columns:
        if column.key == key:
            return line[x:x + column.width].strip()
        x += column.width + GAP
    raise KeyError(key)


def shown_ids(table: TrialTable) -> list[int]:
    return [int(cell(table, line, "id")) for line in rendered(table)[1:] if cell(table, line, "id")]


def line_of(table: TrialTable, trial_id: int) -> str:
    for line in rendered(table)[1:]:
        if cell(table, line, "id") == str(trial_id):
            return line
    raise AssertionError(f"trial {trial_id} is not on screen")


async def press_until(pilot: Pilot[None], key: str, done: Callable[[], bool], limit: int = 40) -> None:
    for _ in range(limit):
        if done():
            return
        await pilot.press(key)
    assert done(), f"pressing {key!r} {limit} times never got there"


def test_s_sorts_by_a_metric_and_r_reverses_with_failures_last_both_ways(
        store: Store, trials: dict[str, int]) -> None:
    frame = trial_frame(store.trials())
    t = trials
    ascending = [t["fast"], t["mid"], t["ok"], t["slow"], t["live"], t["waiting"], t["nan"], t["boom"]]
    descending = [t["slow"], t["ok"], t["mid"], t["fast"], t["live"], t["waiting"], t["boom"], t["nan"]]

    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        assert table.sort_column is None
        await press_until(pilot, "s", lambda: table.sort_column == "best_val_loss")
        await pilot.pause()
        assert table.descending is False
        assert table.current_view()["id"].to_list() == ascending
        assert shown_ids(table) == ascending
        assert "best_val_loss▲" in rendered(table)[0]
        assert app.of(TrialTable.SortChanged)[-1].column == "best_val_loss"

        await pilot.press("r")
        await pilot.pause()
        assert table.descending is True
        assert table.current_view()["id"].to_list() == descending
        assert shown_ids(table) == descending
        assert "best_val_loss▼" in rendered(table)[0]
        last = app.of(TrialTable.SortChanged)[-1]
        assert (last.column, last.descending) == ("best_val_loss", True)

    drive(frame, scenario)


def test_capital_s_cycles_the_sort_column_backwards(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        keys = [c.key for c in table.columns]
        await pilot.press("S")
        assert table.sort_column == keys[-1]
        await pilot.press("S")
        assert table.sort_column == keys[-2]
        await pilot.press("s")
        assert table.sort_column == keys[-1]

    drive(trial_frame(store.trials()), scenario)


def test_clicking_a_header_sorts_by_it_and_again_reverses(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        x = GUTTER
        for column in table.columns:
            if column.key == "state":
                break
            x += column.width + GAP
        await pilot.click(TrialTable, offset=(x + 1, 0))
        assert (table.sort_column, table.descending) == ("state", False)
        await pilot.click(TrialTable, offset=(x + 1, 0))
        assert (table.sort_column, table.descending) == ("state", True)

    drive(trial_frame(store.trials()), scenario)


def test_f_cycles_state_filters_through_the_states_present(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        await pilot.press("f")
        await pilot.pause()
        assert table.state_filter == "queued"
        assert table.current_view()["id"].to_list() == [trials["waiting"]]
        assert shown_ids(table) == [trials["waiting"]]

        seen = ["queued"]
        while table.state_filter is not None:
            await pilot.press("f")
            seen.append(table.state_filter)
        assert seen == ["queued", "running", "completed", "early_stopped", "diverged", "failed", None]
        assert [m.state for m in app.of(TrialTable.FilterChanged)] == seen
        assert len(shown_ids(table)) == len(trials)

        await press_until(pilot, "f", lambda: table.state_filter == "completed")
        await pilot.pause()
        lines = rendered(table)[1:]
        states = [cell(table, line, "state") for line in lines if cell(table, line, "id")]
        assert states == ["completed"] * 3

    drive(trial_frame(store.trials()), scenario)


def test_space_toggles_selection_and_posts_selection_changed(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        await pilot.press("down", "space")
        await pilot.pause()
        second = trials["fast"]
        assert table.selected_ids == (second,)
        assert app.of(TrialTable.SelectionChanged)[-1].trial_ids == (second,)
        assert line_of(table, second).startswith(SELECTED_MARK)
        assert not line_of(table, trials["slow"]).startswith(SELECTED_MARK)

        await pilot.press("down", "down", "space")
        await pilot.pause()
        assert table.selected_ids == (second, trials["boom"])
        assert app.of(TrialTable.SelectionChanged)[-1].trial_ids == (second, trials["boom"])

        await pilot.press("up", "up", "space")
        await pilot.pause()
        assert table.selected_ids == (trials["boom"],)
        assert app.of(TrialTable.SelectionChanged)[-1].trial_ids == (trials["boom"],)
        assert not line_of(table, second).startswith(SELECTED_MARK)

    drive(trial_frame(store.trials()), scenario)


def test_enter_asks_to_open_the_trial_under_the_cursor(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        await pilot.press("down", "down", "down")
        await pilot.press("enter")
        await pilot.pause()
        assert table.cursor_trial_id == trials["boom"]
        assert [m.trial_id for m in app.of(TrialTable.OpenRequested)] == [trials["boom"]]
        assert app.of(TrialTable.Highlighted)[-1].trial_id == trials["boom"]

    drive(trial_frame(store.trials()), scenario)


def test_cursor_stays_on_its_trial_when_new_rows_arrive(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        table.sort_by("best_val_loss")
        await pilot.pause()
        await pilot.press("down", "down")
        assert table.cursor_trial_id == trials["ok"]
        highlights = len(app.of(TrialTable.Highlighted))

        better = [_feed(store, {"name": f"new{i}"}, state=TrialState.COMPLETED, loss=0.01 * (i + 1))
                  for i in range(3)]
        table.set_frame(trial_frame(store.trials()))
        await pilot.pause()
        assert table.cursor_trial_id == trials["ok"]
        assert table.current_view()["id"].to_list()[:3] == better
        assert table.cursor_row == 5
        assert len(app.of(TrialTable.Highlighted)) == highlights
        await pilot.press("enter")
        await pilot.pause()
        assert app.of(TrialTable.OpenRequested)[-1].trial_id == trials["ok"]

    drive(trial_frame(store.trials()), scenario)
