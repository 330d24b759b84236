"""`--executor ray` through the installed console script: `run` and a `[search]` with `executor = "ray"`
train on a local Ray runtime that the command starts (127.0.0.1, no dashboard) and record where each trial
ran; a detached trial runs under a supervisor that trains on Ray; a wrong RAY_ADDRESS and a missing Ray
are one line and exit 2. Real processes, real Ray, real training; only "Ray is not installed" is
simulated (a `ray` package on PYTHONPATH whose import fails), since Ray is installed here."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.states import TrialState
from engine.store import Store
from tests.cli.clirunner import Cli, one_line_error
from tests.engine.execution.ray_cluster import CLUSTER_ENV, free_port

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is an optional extra (pip install 'tunedeck[ray]'); not installed here")

PRESET = """\
extends = "toy2d-mlp"

[task]
n_samples = 300

[model]
hidden = [8]

[optim]
max_epochs = 3

[search]
strategy = "random"
trials = 3
parallel = 2
seed = 1
executor = "ray"
"optim.lr" = { low = 1e-3, high = 1e-1, log = true }
"""


def ray_cli(cli: Cli) -> Cli:
    """Commands that start a local Ray runtime of their own (no RAY_ADDRESS), as a user without a cluster."""
    cli.env.pop("RAY_ADDRESS", None)
    cli.env.update(CLUSTER_ENV)
    return cli


def ray_node(store: Store, trial_id: int) -> dict:
    where = store.trial(trial_id).env.get("ray", {})
    assert where.get("node_id") and where.get("node_ip") and where.get("pid"), where
    return where


@needs_ray
def test_run_and_a_ray_search_train_on_a_local_ray_and_record_the_node(cli: Cli) -> None:
    ray_cli(cli)
    result = cli("run", "toy2d-mlp", "--executor", "ray", "--set", "optim.max_epochs=3", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on Ray" in result.stdout and "epoch 3/3" in result.stdout and "trial 1 completed" in result.stdout
    assert "Traceback" not in result.stderr and "gcs_client" not in result.stderr  # Ray's own lines go to its log
    (cli.cwd / "ray-search.toml").write_text(PRESET)
    result = cli("sweep", "ray-search.toml", timeout=180)  # executor = "ray" in [search]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sweep 1 completed" in result.stdout
    with Store(cli.store) as store:
        assert ray_node(store, 1)["pid"] > 0
        trials = store.trials(sweep_id=1)
        assert len(trials) == 3 and all(t.state == TrialState.COMPLETED for t in trials)
        for t in trials:
            ray_node(store, t.id)
        assert store.sweep(1).spec["executor"] == "ray"  # stored with the sweep: a resume trains on Ray too
        node = ray_node(store, 1)
    shown = cli("show", "1")
    assert shown.returncode == 0, shown.stderr
    assert (f"  ray node    {node['node_id'][:12]} ({node['node_ip']}, {node['hostname']}), actor pid {node['pid']}, "
            f"GPUs none") in shown.stdout  # where it ran, said by `tunedeck show`


@needs_ray
def test_a_detached_ray_trial_runs_under_a_supervisor_that_trains_on_ray(cli: Cli) -> None:
    ray_cli(cli)
    result = cli("run", "toy2d-mlp", "--executor", "ray", "--detach", "--set", "optim.max_epochs=3")
    assert result.returncode == 0, result.stdout + result.stderr
    watched = cli("watch", "1", timeout=180)
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert (cli.store.parent / "trials.supervisor.executor").read_text().strip() == "ray"
    with Store(cli.store) as store:
        assert store.trial(1).state == TrialState.COMPLETED
        ray_node(store, 1)
    plain = cli("run", "toy2d-mlp", "--detach", "--quiet")  # without --executor: queued for whichever supervisor runs
    assert plain.returncode == 0 and plain.stdout.strip() == "2", plain.stdout + plain.stderr


@needs_ray
@pytest.mark.parametrize("command", [["sweep", "toy2d-sweep"], ["run", "toy2d-mlp"], ["cockpit"],
                                     ["sweep", "toy2d-sweep", "--detach"]])
def test_a_ray_address_where_no_head_answers_is_one_line_and_exit_2(cli: Cli, command: list[str]) -> None:
    address = f"127.0.0.1:{free_port()}"
    cli.env["RAY_ADDRESS"] = address
    result = cli(*command, "--executor", "ray", timeout=60)
    one_line_error(result, "RAY_ADDRESS", address, "ray start --head")
    assert not cli.store.exists()  # refused before anything was recorded


@needs_ray
def test_a_ray_address_that_is_no_address_is_one_line_and_exit_2(cli: Cli) -> None:
    cli.env["RAY_ADDRESS"] = "head-node-without-port\x1b[2J"
    result = cli("sweep", "toy2d-sweep", "--executor", "ray", timeout=60)
    one_line_error(result, "RAY_ADDRESS", "HOST:PORT", "\\u001b[2J")


def test_without_ray_installed_executor_ray_says_how_to_install_it(cli: Cli, tmp_path: Path) -> None:
    fake = tmp_path / "no-ray"  # stands for an environment without Ray: its import fails as a missing one does
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    cli.env["PYTHONPATH"] = str(fake)
    for command in (["sweep", "toy2d-sweep"], ["run", "toy2d-mlp"]):
        result = cli(*command, "--executor", "ray", timeout=60)
        one_line_error(result, 'pip install "tunedeck[ray]"')


def test_search_executor_is_checked_and_round_trips() -> None:
    from engine.config.groups import Config
    from engine.sweeps.spec import parse_search

    base = Config.from_dict({})
    spec = parse_search({"executor": "ray", "optim.lr": {"low": 1e-3, "high": 1e-1}}, base)
    assert spec.executor == "ray" and parse_search(spec.to_dict(), base).executor == "ray"
    assert "executor" not in parse_search({"optim.lr": {"low": 1e-3, "high": 1e-1}}, base).to_dict()
    with pytest.raises(ConfigError, match=re.escape("search.executor: must be one of process, thread, ray")):
        parse_search({"executor": "cluster", "optim.lr": {"low": 1e-3, "high": 1e-1}}, base)


@needs_ray
def test_ray_work_is_refused_with_nothing_queued_while_the_supervisor_trains_with_processes(cli: Cli) -> None:
    ray_cli(cli)
    first = cli("run", "toy2d-mlp", "--detach", "--quiet", "--set", "optim.max_epochs=2")  # a process supervisor
    assert first.returncode == 0, first.stdout + first.stderr
    (cli.cwd / "ray-search.toml").write_text(PRESET)
    for command in (["run", "toy2d-mlp", "--detach", "--executor", "ray"], ["sweep", "ray-search.toml", "--detach"]):
        one_line_error(cli(*command), "trains with the process executor, not ray", "--executor ray")
    with Store(cli.store) as store:
        assert [t.id for t in store.trials()] == [1] and store.sweeps() == []  # nothing queued for the wrong one
