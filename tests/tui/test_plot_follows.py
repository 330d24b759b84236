"""The plot follows the work: the running trials, then the one that ended, and the cursor follows new trials.

The trials are written into the store from a second Store connection, as another process's (a
supervisor, a `tunedeck run`) would be, with scripted events: what is tested is what the cockpit
shows, not training. The cockpit has no supervisor (nothing is queued here).
"""
from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from engine.config.presets import load_preset
from engine.events import EpochEnded, TrialStarted, TrialState
from engine.store import Store
from tests.tui.scripted import ENV, scripted_store, scripted_trial
from tests.tui.test_app import until
from tests.tui.test_cockpit_keys_in_fields import cockpit, drive

LOSSES = [0.9, 0.5, 0.3]


def plotted(app) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Label -> number of points of each curve the plot was given."""
    return {s.label: len(s.ys) for s in app.cockpit.plot.series}


def test_a_trial_over_within_one_drain_interval_is_drawn_and_the_cursor_goes_to_it(tmp_path: Path) -> None:
    store = scripted_store(tmp_path / "t.db")  # trials 1-4, finished
    app = cockpit(store)
    other = Store(store.path)  # another process's connection

    async def script(pilot: Pilot) -> None:
        table = app.cockpit.table
        await pilot.press("home")  # the user looks at trial 1...
        await until(pilot, lambda: table.cursor_trial_id == 1, 10)
        await pilot.press("end")  # ...then back at the newest: the cursor follows new trials again
        # Started, trained and finished between two ticks: the cockpit never sees it run.
        new = scripted_trial(other, load_preset("toy2d-mlp"), LOSSES, TrialState.COMPLETED, "ran all 3 epochs")
        await until(pilot, lambda: app.cockpit.monitor.focus_trial() == new, 10)
        await until(pilot, lambda: plotted(app).get(f"#{new} val") == len(LOSSES), 10)  # read from the store
        await until(pilot, lambda: table.cursor_trial_id == new, 10)

    drive(app, script)


def test_a_finished_trial_stays_on_the_plot_until_the_user_picks_another(tmp_path: Path) -> None:
    store = scripted_store(tmp_path / "t.db")
    app = cockpit(store)
    other = Store(store.path)
    config = load_preset("toy2d-mlp")

    async def script(pilot: Pilot) -> None:
        monitor, table = app.cockpit.monitor, app.cockpit.table
        running = other.create_trial(config)
        other.start_trial(running, TrialStarted("cpu", 65, 700, 150, 150, 11, "binary", 1), ENV)
        other.record(running, EpochEnded(1, 11, 0.8, 0.7, 0.6, 0.01, 0.01, improved=True))
        await until(pilot, lambda: monitor.focus_trial() == running and plotted(app).get(f"#{running} val") == 1, 10)
        await until(pilot, lambda: table.cursor_trial_id == running, 10)  # the cursor followed it
        # It ends: it stays on screen (not the row the cursor was on before it started).
        other.mark_finished(running, TrialState.CANCELLED, "cancelled by the user")
        await until(pilot, lambda: store.trial(running).state.is_finished and not monitor.live.running(), 10)
        await pilot.pause(0.6)
        assert monitor.focus_trial() == running
        # The user picks another trial: the plot turns to it, and a new trial no longer moves the cursor.
        await pilot.press("home")
        await until(pilot, lambda: monitor.focus_trial() == 1, 10)
        later = scripted_trial(other, config, LOSSES, TrialState.COMPLETED, "ran all 3 epochs")
        await until(pilot, lambda: monitor.focus_trial() == later, 10)  # the plot shows the new one...
        await pilot.pause(1.3)  # ...a table refresh later,
        assert table.cursor_trial_id == 1  # the cursor is where the user put it

    drive(app, script)
