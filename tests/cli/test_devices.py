"""`tunedeck devices` as a user runs it: CPUs and memory, one line saying why there is no GPU, the store's
running trials, --json, --watch; and `tunedeck show` with a trial's GPU facts. Real processes and a real
store. The tests that expect "no GPU" hide NVML explicitly (`without_nvml`: a `pynvml` module first on
PYTHONPATH that fails to import, as on a machine without nvidia-ml-py), so they pass on a GPU box too;
`test_devices_on_this_machine` uses the real NVML and accepts either a GPU list or its reason."""
from __future__ import annotations

import json
import os
import signal
import socket

from engine.config.presets import load_preset
from engine.devices.trial_gpu import GPU_INDEX, GPU_NAME, PEAK_GPU_MB
from engine.events import TrialStarted
from engine.states import TrialState
from engine.store import Store
from tests.cli.clirunner import Cli, one_line_error


def running_trial(store: Store, device: str, **env: object) -> int:
    """Recorded as running in this test process (alive, so no reader marks it interrupted)."""
    trial_id = store.create_trial(load_preset("toy2d-mlp"))
    store.start_trial(trial_id, TrialStarted(device, 100, 10, 5, 5, 1, "binary", 1),
                      {"hostname": socket.gethostname(), "pid": os.getpid(), **env})
    return trial_id


def without_nvml(cli: Cli) -> None:
    """Hide NVML from the CLI's processes (faked: a `pynvml` that raises ImportError shadows the real one)."""
    fake = cli.cwd / "no-nvml"
    fake.mkdir(exist_ok=True)
    (fake / "pynvml.py").write_text('raise ImportError("hidden by the test: no NVML here")\n')
    cli.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(fake), cli.env.get("PYTHONPATH")]))


def test_devices_on_this_machine(cli: Cli) -> None:
    """The real NVML: GPU lines where it finds GPUs, else one line saying why there is none."""
    result = cli("devices", "--json")
    assert result.returncode == 0, result.stderr
    snap = json.loads(result.stdout)
    assert snap["gpus"] or snap["gpu_problem"]  # GPUs, or why there are none
    for gpu in snap["gpus"]:
        assert isinstance(gpu["index"], int) and gpu["name"]


def test_devices_without_a_gpu_or_a_store(cli: Cli) -> None:
    without_nvml(cli)
    result = cli("devices")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("CPU: ") and " cores, load " in lines[1] and "GiB used" in lines[1]
    gpu = [line for line in lines if line.startswith("no GPU: ")]
    assert len(gpu) == 1 and ("NVML" in gpu[0] or "nvidia-ml-py" in gpu[0])
    assert f"trials not shown: no trial store at {cli.store}" in lines
    assert "Traceback" not in result.stdout + result.stderr and not cli.store.exists()  # nothing created


def test_devices_shows_the_running_trials(cli: Cli) -> None:
    with Store(cli.store) as store:
        on_cpu = running_trial(store, "cpu")
        result = cli("devices")
        store.mark_finished(on_cpu, TrialState.CANCELLED, "stopped: the test ended")
        after = cli("devices")
    assert result.returncode == 0, result.stderr
    assert f"CPU: trial {on_cpu}" in result.stdout.splitlines()
    assert "no trial running" in after.stdout.splitlines() and "CPU: trial" not in after.stdout


def test_devices_json(cli: Cli) -> None:
    without_nvml(cli)
    with Store(cli.store) as store:
        on_cpu = running_trial(store, "cpu")
        result = cli("devices", "--json")
    assert result.returncode == 0, result.stderr
    snap = json.loads(result.stdout)
    assert snap["gpus"] == [] and snap["gpu_problem"]
    assert snap["host"]["cores"] >= 1 and snap["host"]["memory_total_mb"] > 0
    assert snap["off_gpu"] == [[on_cpu, "cpu"]] and snap["store_problem"] is None


def test_devices_watch_until_ctrl_c(cli: Cli) -> None:
    process = cli.popen("devices", "--watch", "0.5", "--json")
    try:
        first = process.stdout.readline()  # type: ignore[union-attr]
        second = process.stdout.readline()  # type: ignore[union-attr]
        assert json.loads(first)["taken_at"] < json.loads(second)["taken_at"]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and "Traceback" not in err, err


def test_devices_bad_watch_is_one_line(cli: Cli) -> None:
    one_line_error(cli("devices", "--watch", "0.1"), "--watch", "between 0.5 and 86400 seconds", "0.1")


def test_devices_unreachable_ray_is_one_line(cli: Cli) -> None:
    """--ray with RAY_ADDRESS naming a port where nothing listens: said in the Ray line, the rest shown."""
    with socket.socket() as sock:  # a free port, closed again: nothing answers there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli.env["RAY_ADDRESS"] = f"127.0.0.1:{port}"
    result = cli("devices", "--ray", timeout=60)  # ray.init alone would wait minutes on it
    assert result.returncode == 2, result.stderr  # asked for a cluster, got none: not a success
    ray_line = [line for line in result.stdout.splitlines() if line.startswith("Ray: ")]
    assert len(ray_line) == 1, result.stdout
    assert f"127.0.0.1:{port}" in ray_line[0] or "not installed" in ray_line[0]
    assert result.stdout.splitlines()[1].startswith("CPU: ")  # the rest is shown
    assert result.stderr.splitlines() == [f"tunedeck: error: --ray: {ray_line[0].removeprefix('Ray: ')}"]


def test_show_prints_a_trials_gpu_and_peak_memory(cli: Cli) -> None:
    with Store(cli.store) as store:
        trial_id = running_trial(store, "cuda", **{GPU_INDEX: 1, GPU_NAME: "NVIDIA H100"})
        store.note_run_info(trial_id, {PEAK_GPU_MB: 2048.0})
        result = cli("show", str(trial_id))
    assert result.returncode == 0, result.stderr
    assert "  gpu memory  peak 2,048.0 MiB on GPU 1 (NVIDIA H100)" in result.stdout.splitlines()


def test_devices_with_a_file_that_is_no_store(cli: Cli) -> None:
    cli.store.write_text("not a database")
    result = cli("devices")
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("trials not shown: ") and "not a tunedeck store" in line
               for line in result.stdout.splitlines())
    assert result.stdout.splitlines()[1].startswith("CPU: ") and cli.store.read_text() == "not a database"
