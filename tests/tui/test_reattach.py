"""Training outlives the cockpit: quit and keep running, a hang-up, re-attaching, other processes' trials.

These use the real detached supervisor (`python -m engine.supervisor`, started on demand as
`tunedeck` starts it), so the trials train in its processes, not in the test's.
"""
from __future__ import annotations

import asyncio
import os
import pty
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from engine.config.presets import load_preset
from engine.events import TrialState
from engine.store import Store
from engine.supervisor.client import SupervisorClient
from tests.cli.clirunner import BIN, SUPERVISOR_IDLE_S, stop_supervisor
from tests.tui.test_app import FAST, until
from tui.app import TunedeckApp
from tui.screens.quit_dialog import QuitScreen

LONG = {**FAST, "optim.max_epochs": 100_000, "early_stop.patience": 0}


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TUNEDECK_SUPERVISOR_IDLE", str(SUPERVISOR_IDLE_S))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "t.db"
    yield path
    stop_supervisor(path)


def wait_for(condition: Callable[[], bool], seconds: float = 90, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met in {seconds} s")
        time.sleep(0.1)


def run_app(app: TunedeckApp, script: Callable[[Pilot], object]) -> None:
    async def main() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause(0.3)
            await script(pilot)  # type: ignore[misc]
    asyncio.run(main())


def test_quit_keeping_the_trial_running_it_completes_with_every_epoch(store_path: Path) -> None:
    store = Store(store_path)
    app = TunedeckApp(load_preset("toy2d-mlp").with_updates({**LONG, "optim.max_epochs": 3000}), store,
                      SupervisorClient(store))

    async def script(pilot: Pilot) -> None:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: store.count() == 1 and store.trial(1).epochs_run >= 1)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen), 60)
        await pilot.press("k")

    run_app(app, script)
    assert app.return_code is not None and store.trial(1).state is TrialState.RUNNING
    wait_for(lambda: store.trial(1).state.is_finished, 120, "the trial ends after the cockpit quit")
    record = store.trial(1)
    assert record.state is TrialState.COMPLETED and record.epochs_run == 3000
    assert [e["epoch"] for e in store.epochs(1)] == list(range(1, 3001))


def test_a_hang_up_kills_the_cockpit_not_the_trial(store_path: Path) -> None:
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    app = subprocess.Popen([str(BIN), "--store", str(store_path), "--set", "optim.max_epochs=4000",
                            "--set", "early_stop.patience=0", "--set", "task.n_samples=300"],
                           stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    try:
        store = Store(store_path) if store_path.exists() else None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # press ctrl+r until the form is up and a trial is stored
            os.write(master, b"\x12")
            time.sleep(1.0)
            _drain(master)
            if store is None and store_path.exists():
                store = Store(store_path)
            if store is not None and store.count() >= 1:
                break
        assert store is not None and store.count() >= 1, "the cockpit started no trial"
        wait_for(lambda: store.trial(1).epochs_run >= 1, 60, "the trial trains")
        os.killpg(app.pid, signal.SIGHUP)  # the terminal hangs up: the cockpit's whole session gets it
        app.wait(20)
        assert store.trial(1).state is TrialState.RUNNING
        wait_for(lambda: store.trial(1).state.is_finished, 120, "the trial ends after the hang-up")
        assert store.trial(1).state is TrialState.COMPLETED and store.trial(1).epochs_run == 4000
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
        os.close(master)


def _drain(fd: int) -> None:
    """Read what the app drew so that it never blocks on a full pty."""
    import select

    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def test_reopening_follows_a_running_trial_and_stops_it(store_path: Path) -> None:
    store = Store(store_path)
    config = load_preset("toy2d-mlp").with_updates(LONG)
    trial_id = SupervisorClient(store).enqueue(config)  # as if from an earlier cockpit or `run --detach`
    wait_for(lambda: store.trial(trial_id).epochs_run >= 2, 60, "the trial trains")
    app = TunedeckApp(config, store, SupervisorClient(store))

    def epochs() -> int:
        live = app.cockpit.live.get(trial_id)
        return live.count("val_loss") if live is not None else 0

    async def script(pilot: Pilot) -> None:
        await until(pilot, lambda: epochs() >= 2, 30)  # its history so far, read on arrival
        seen = epochs()
        await until(pilot, lambda: epochs() > seen + 5, 30)  # and the epochs committed since
        assert app.cockpit.monitor.focus_trial() == trial_id  # the plot shows it
        app.cockpit.table.focus()
        await pilot.press("home", "ctrl+x")
        await until(pilot, lambda: store.trial(trial_id).state is TrialState.CANCELLED, 60)
        await until(pilot, lambda: app.cockpit.live.get(trial_id) is None, 60)

    run_app(app, script)
    assert "cancelled by the user" in (store.trial(trial_id).reason or "")


def test_a_sweep_in_another_process_appears_within_two_table_refreshes(store_path: Path, tmp_path: Path) -> None:
    preset = tmp_path / "sweep.toml"
    preset.write_text('extends = "toy2d-mlp"\n[optim]\nmax_epochs = 3\n[task]\nn_samples = 300\n'
                      '[search]\nstrategy = "grid"\n"optim.lr" = [0.01, 0.1]\n')
    store = Store(store_path)
    app = TunedeckApp(load_preset("toy2d-mlp"), store, SupervisorClient(store))
    refreshes: list[int] = []

    async def script(pilot: Pilot) -> None:
        monitor = app.cockpit.monitor
        shown = monitor.table_refreshes
        sweep = subprocess.Popen([str(BIN), "sweep", str(preset), "--store", str(store_path), "--executor", "thread"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await until(pilot, lambda: store.count() >= 1, 60)
            committed = monitor.table_refreshes
            await until(pilot, lambda: app.cockpit.table.current_view().height >= 1, 60)
            refreshes.append(monitor.table_refreshes - committed)
            await until(pilot, lambda: sweep.poll() is not None, 60)
            await until(pilot, lambda: sorted(app.cockpit.table.current_view()["state"].to_list())
                        == ["completed", "completed"], 10)
            assert monitor.table_refreshes > shown
        finally:
            if sweep.poll() is None:
                sweep.kill()
            sweep.wait(10)

    run_app(app, script)
    assert refreshes and refreshes[0] <= 2


def test_a_trial_whose_trainer_was_killed_resumes_from_the_cockpit_and_its_curve_goes_on(store_path: Path) -> None:
    store = Store(store_path)
    config = load_preset("toy2d-mlp").with_updates({**LONG, "optim.max_epochs": 400, "run.checkpoint_every": 0,
                                                    "reg.dropout": 0.1})
    client = SupervisorClient(store)
    trial_id = client.enqueue(config)
    wait_for(lambda: store.trial(trial_id).epochs_run >= 20, 60, "the trial trains")
    os.kill(store.trial(trial_id).pid, signal.SIGKILL)  # the OOM killer, say
    wait_for(lambda: store.trial(trial_id).state is TrialState.INTERRUPTED, 30, "the trial is interrupted")
    cut = store.trial(trial_id).epochs_run
    saved = store.checkpoints(trial_id, "last")[0].epoch
    app = TunedeckApp(config, store, client)

    async def script(pilot: Pilot) -> None:
        app.cockpit.table.focus()
        await pilot.press("home", "u")
        await until(pilot, lambda: store.trial(trial_id).state.is_finished, 120)

    run_app(app, script)
    record = store.trial(trial_id)
    assert record.state is TrialState.COMPLETED and record.epochs_run == 400
    assert [e["epoch"] for e in store.epochs(trial_id)] == list(range(1, 401))  # one curve, no seam, no repeat
    assert saved <= cut and [r["epoch"] for r in record.run_info["resumed"]] == [saved]
