"""The trial table draws what it holds: live rows, numbers, colours, hints, long names, 100k rows."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from textual.pilot import Pilot

import tui.widgets.trial_table as trial_table_module
from engine.events import TrialState
from engine.store import Store
from engine.tables.frames import TRIAL_SCHEMA, trial_frame
from tests.tui.test_trial_table import (  # noqa: F401 - trials is a fixture, used by name
    SIZE,
    Host,
    _feed,
    cell,
    drive,
    line_of,
    press_until,
    rendered,
    shown_ids,
    trials,
)
from tui.widgets.trial_table import TrialTable


def _synthetic(n: int, *, first_id: int = 1) -> pl.DataFrame:
    """A trial frame of the engine's schema with n rows, built in Polars (no store, no loop)."""
    ids = pl.int_range(first_id, first_id + n, eager=True, dtype=pl.Int64)
    states = ["completed", "failed", "running", "early_stopped", "pruned", "queued"]
    base = pl.DataFrame({"id": ids}).with_columns(
        name=pl.format("t{}", pl.col("id")),
        state=pl.col("id").mod(len(states)).replace_strict(list(range(len(states))), states),
        best_val_loss=((pl.col("id") * 7919) % 100_003).cast(pl.Float64) / 100_003.0,
        duration_s=pl.col("id").cast(pl.Float64) % 500,
    ).with_columns(**{"optim.lr": pl.when(pl.col("id") % 2 == 0).then(0.001).otherwise(0.01)})
    missing = [pl.lit(None, dtype=dtype).alias(key) for key, dtype in TRIAL_SCHEMA.items()
               if key not in base.columns]
    return base.with_columns(missing).select(list(TRIAL_SCHEMA)).cast(dict(TRIAL_SCHEMA))


def test_live_update_keeps_the_cursor_on_its_screen_line() -> None:
    frame = _synthetic(1000)

    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        table.sort_by("id", descending=True)
        await pilot.press("pagedown", "pagedown", "down", "down")
        await pilot.pause()
        trial_id = table.cursor_trial_id
        before = rendered(table).index(line_of(table, trial_id))
        top, row = table.scroll_offset.y, table.cursor_row
        table.set_frame(pl.concat([frame, _synthetic(4, first_id=1001)]))
        await pilot.pause()
        assert table.cursor_trial_id == trial_id
        assert table.cursor_row == row + 3  # one of the four new trials failed and sorts last
        assert table.scroll_offset.y == top + 3
        assert rendered(table).index(line_of(table, trial_id)) == before

    drive(frame, scenario)


def test_small_lr_and_nulls_are_written_out(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        assert "optim.lr" in [c.key for c in table.columns]
        slow = line_of(table, trials["slow"])
        assert cell(table, slow, "optim.lr") == "0.001"
        assert cell(table, slow, "best_val_loss") == "0.3"
        live = line_of(table, trials["live"])
        assert cell(table, live, "best_val_loss") == "-"
        assert cell(table, live, "state") == "running"

    drive(trial_frame(store.trials()), scenario)


def test_completed_and_failed_states_have_different_colours(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        def state_style(state: str) -> Any:
            for y in range(1, table.scrollable_content_region.height):
                for segment in table.render_line(y):
                    if segment.text.strip() == state:
                        return segment.style
            raise AssertionError(state)

        await pilot.press("end")
        await pilot.pause()
        completed, failed = state_style("completed"), state_style("failed")
        assert completed.color is not None and failed.color is not None
        assert completed.color != failed.color
        plain = table.rich_style.color
        assert plain not in (completed.color, failed.color)

    drive(trial_frame(store.trials()), scenario)


def test_empty_store_shows_a_hint_and_an_empty_filter_says_which(store: Store, trials: dict[str, int]) -> None:
    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        lines = rendered(table)
        assert "id" in lines[0] and "state" in lines[0]
        assert lines[1].strip() == "no trials yet"
        assert table.cursor_trial_id is None
        await pilot.press("enter", "space", "s", "down")
        assert app.of(TrialTable.OpenRequested) == [] and table.selected_ids == ()

        table.set_frame(trial_frame(store.trials()))
        table.set_state_filter("pruned")
        await pilot.pause()
        assert rendered(table)[1].strip() == "no pruned trials"

    drive(None, scenario)


def test_long_names_are_cut_with_an_ellipsis(store: Store) -> None:
    long_name = "a-really-long-trial-name-that-does-not-fit-anywhere"
    _feed(store, {"name": long_name}, state=TrialState.COMPLETED, loss=0.5)

    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        name = cell(table, rendered(table)[1], "name")
        assert name.endswith("…")
        assert long_name.startswith(name[:-1])
        assert len(name) == next(c.width for c in table.columns if c.key == "name")

    drive(trial_frame(store.trials()), scenario)


def test_100k_trials_format_only_the_rows_on_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _synthetic(100_000)
    formatted: list[int] = []
    real = trial_table_module.format_rows

    def counting(rows: Any, kinds: Any) -> Any:
        formatted.append(len(rows))
        return real(rows, kinds)

    monkeypatch.setattr(trial_table_module, "format_rows", counting)

    async def scenario(pilot: Pilot[None], table: TrialTable, app: Host) -> None:
        visible = table.scrollable_content_region.height - 1
        drawn = table.size.height - 1  # Textual also asks for the line under the horizontal scrollbar
        assert 0 < sum(formatted) <= drawn
        assert table.current_view().height == 100_000

        formatted.clear()
        await press_until(pilot, "s", lambda: table.sort_column == "best_val_loss")
        await pilot.press("r")
        await pilot.pause()
        view = table.current_view()
        ok = view.filter(pl.col("state") != "failed")
        assert view["best_val_loss"][0] == ok["best_val_loss"].max()
        assert view["state"][-1] == "failed"
        assert shown_ids(table) == view["id"].head(visible).to_list()
        assert max(formatted) <= drawn
        assert len(table._window) <= drawn

        formatted.clear()
        await pilot.press("end")
        await pilot.pause()
        assert 0 < sum(formatted) <= drawn
        assert shown_ids(table)[-1] == view["id"][-1]
        assert table.scroll_offset.y > 0
        header = rendered(table)[0]
        assert cell(table, header, "id") == "id" and cell(table, header, "best_val_loss") == "best_val_loss▼"

    drive(frame, scenario)
