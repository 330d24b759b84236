"""`i` (alt+i in a field) sends the form's config into the running sweep, through the supervisor: the
sweep's next trial has the form's searched knobs; a value outside the search is refused in a notification."""
from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from engine.states import TrialState
from engine.store import Store
from engine.sweeps.spec import parse_search
from tests.tui.test_app import app_on, drive, type_into, until

LONG = {"optim.max_epochs": 100_000, "early_stop.patience": 0}  # trains until stopped


def test_the_forms_config_goes_into_the_running_sweep_and_runs_next(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    app = app_on(store)

    def messages() -> list[str]:
        return [n.message for n in app._notifications]

    async def script(pilot: Pilot) -> None:
        client = app.cockpit.services.client
        base = app.cockpit.form.config.with_updates(LONG)
        spec = parse_search({"strategy": "random", "trials": 3, "seed": 1,
                             "optim.lr": {"low": 1e-3, "high": 0.1, "log": True}}, base)
        sweep_id = client.start_sweep(base, spec)

        def trials() -> list:
            return store.trials(sweep_id=sweep_id)

        await until(pilot, lambda: any(t.state is TrialState.RUNNING for t in trials()), 60)
        client.wait(client.pause_sweep(sweep_id), 10)
        before = len(trials())
        await type_into(pilot, app, "optim.lr", "0.5")  # outside the search
        await pilot.press("alt+i")
        await until(pilot, lambda: any("refused" in m for m in messages()), 30)
        assert any("optim.lr: is outside this sweep's search (0.001 to 0.1), got 0.5" in m for m in messages())
        await type_into(pilot, app, "optim.lr", "0.0123")
        await pilot.press("alt+i")
        await until(pilot, lambda: any("runs next" in m for m in messages()), 30)
        assert f"enqueued into sweep {sweep_id}, runs next: lr=0.0123" in messages()
        client.wait(client.unpause_sweep(sweep_id), 10)
        for t in trials():
            if t.state is TrialState.RUNNING:
                client.cancel(t.id)
        await until(pilot, lambda: len(trials()) > before, 60)
        assert trials()[before].config["optim"]["lr"] == 0.0123
        client.wait(client.stop_sweep(sweep_id, "stopped by the test"), 10)
        await until(pilot, lambda: not store.sweep(sweep_id).state.is_active, 60)

    drive(app, script)
