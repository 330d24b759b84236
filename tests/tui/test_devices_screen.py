"""The cockpit's device panel: `d` opens it over the cockpit, it reads the devices in a worker thread and
shows them, refreshes, and Escape closes it; and the detail view's line on a trial's GPU.

NVML is faked for the GPU case (tests/engine/devices/fake_nvml.py in sys.modules as `pynvml`): this
machine has no GPU. The cockpit, its supervisor and the store are real.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from engine.config.presets import load_preset
from engine.devices.nvml import NOT_INSTALLED
from engine.devices.trial_gpu import GPU_INDEX, GPU_NAME, PEAK_GPU_MB
from engine.events import TrialStarted
from engine.store import Store
from tests.engine.devices.fake_nvml import TWO_GPUS, fake_pynvml
from tests.tui.test_app import app_on, drive, until
from tui.screens.detail import DetailScreen
from tui.screens.devices import DevicesScreen


def body(pilot: Pilot) -> str:
    return str(pilot.app.screen.query_one("#devices-body", Static).render())


def test_d_opens_the_panel_and_escape_closes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # as on a machine without the nvidia-ml-py package
    app = app_on(Store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        app.cockpit.table.focus()
        await pilot.press("d")
        assert isinstance(app.screen, DevicesScreen)
        await until(pilot, lambda: app.screen.reads >= 1, 30)  # type: ignore[attr-defined]
        text = body(pilot)
        assert "CPU: " in text and f"no GPU: {NOT_INSTALLED}" in text
        await until(pilot, lambda: app.screen.reads >= 2, 30)  # type: ignore[attr-defined]  # it refreshes
        await pilot.press("escape")
        assert not isinstance(app.screen, DevicesScreen)

    drive(app, script)


def test_the_panel_shows_each_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(TWO_GPUS))
    app = app_on(Store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        app.cockpit.form.focus()
        await pilot.press("alt+d")  # the twin that works from a text field too
        assert isinstance(app.screen, DevicesScreen)
        await until(pilot, lambda: app.screen.reads >= 1, 30)  # type: ignore[attr-defined]
        text = body(pilot)
        assert "GPU 0 NVIDIA H100 80GB HBM3: 1.0 GiB / 79.6 GiB, 37% busy" in text
        assert "GPU 1 NVIDIA H100 80GB HBM3: 30.0 GiB / 79.6 GiB, 98% busy" in text
        # at 120 columns each GPU's line fits on one row (the panel is a wide dialog, not .dialog's 100)
        gpu_lines = [line for line in text.splitlines() if line.startswith("GPU ")]
        assert len(gpu_lines) == 2
        width = app.screen.query_one("#devices-body", Static).content_region.width
        assert max(len(line) for line in gpu_lines) <= width, (width, gpu_lines)
        assert width >= 110  # room for a GPU line that lists its trials (about 110 wide), not .dialog's 92
        await pilot.press("escape")

    drive(app, script)


def test_the_detail_view_shows_a_trials_gpu_and_peak_memory(tmp_path: Path) -> None:
    """The facts a trainer stores on a GPU (written here as it writes them: this machine has none)."""
    store = Store(tmp_path / "t.db")
    trial_id = store.create_trial(load_preset("toy2d-mlp"))
    store.start_trial(trial_id, TrialStarted("cuda", 100, 10, 5, 5, 1, "binary", 1),
                      {"hostname": socket.gethostname(), "pid": os.getpid(), GPU_INDEX: 1, GPU_NAME: "NVIDIA H100"})
    store.note_run_info(trial_id, {PEAK_GPU_MB: 2048.0})
    app = app_on(store)

    async def script(pilot: Pilot) -> None:
        app.push_screen(DetailScreen(store, trial_id))
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and bool(app.screen.query("#detail-summary")), 30)
        summary = str(app.screen.query_one("#detail-summary", Static).render())
        assert "gpu      peak 2,048.0 MiB on GPU 1 (NVIDIA H100)" in summary
        await pilot.press("escape")

    drive(app, script)
