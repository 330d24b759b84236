"""Script tasks through the installed console script: `tunedeck run` in the foreground (its epoch lines,
Ctrl+C), `tunedeck run --detach` through the store's supervisor, and `tunedeck sweep` over a param."""
from __future__ import annotations

import signal
import textwrap
import time
from pathlib import Path

from engine.states import TrialState
from engine.store import Store
from tests.cli.clirunner import Cli
from tests.cli.conftest import cli  # noqa: F401 - the fixture
from tests.engine.ownloop.script_helpers import WAIT, alive, wait_until, write_script

PLAIN = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--optim.max_epochs", dest="epochs", type=int, required=True)
parser.add_argument("--scale", type=float, default=1.0)
parser.add_argument("--pause", type=float, default=0.0)
args, _ = parser.parse_known_args()
open("script.pid", "w").write(str(os.getpid()))
for epoch in range(1, args.epochs + 1):
    time.sleep(args.pause)
    print(f"epoch: {epoch}  train_loss: {args.scale / epoch:.4f}  val_loss: {args.scale * 2 / epoch:.4f}")
"""
TUNEDECK = """
import tunedeck
with tunedeck.init() as run:
    for epoch in range(1, run.config["optim.max_epochs"] + 1):
        run.log(epoch=epoch, train_loss=1 / epoch, val_loss=2 / epoch)
"""


def preset(cli: Cli, script: str, extra: str = "") -> Path:
    write_script(cli.cwd, "train.py", script)
    path = cli.cwd / "script.toml"
    path.write_text(textwrap.dedent("""\
        [task]
        name = "script"
        path = "train.py"
        pass_flags = true

        [optim]
        max_epochs = 3

        [params]
        scale = { type = "float", default = 1.0, low = 0.0, high = 100.0 }
        pause = { type = "float", default = 0.0, low = 0.0, high = 100.0 }
        """) + textwrap.dedent(extra))
    return path


def test_run_prints_a_script_s_epochs_like_the_loop_s(cli: Cli) -> None:  # noqa: F811
    result = cli("run", str(preset(cli, PLAIN)), "--set", "params.scale=3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("trial 1: script (script train.py) -> ")
    assert [line.split()[:2] for line in lines[1:4]] == [["epoch", "1/3"], ["epoch", "2/3"], ["epoch", "3/3"]]
    assert "train_loss 3.0000  val_loss 6.0000  " in lines[1] and " lr " not in lines[1] and lines[3].endswith("*")
    assert "trial 1 completed: the script" in result.stdout and "Traceback" not in result.stderr
    with Store(cli.store) as store:
        assert store.trial(1).best_val_loss == 2.0 and store.trial(1).state is TrialState.COMPLETED


def test_run_of_a_missing_script_exits_2_naming_the_knob(cli: Cli) -> None:  # noqa: F811
    path = preset(cli, PLAIN)
    result = cli("run", str(path), "--set", "task.path=gone.py")
    assert result.returncode == 2 and "task.path: no such file" in result.stderr and "'gone.py'" in result.stderr
    assert "Traceback" not in result.stderr and not cli.store.exists()


def test_ctrl_c_stops_a_script_run_in_the_foreground(cli: Cli) -> None:  # noqa: F811
    process = cli.popen("run", str(preset(cli, PLAIN)), "--set", "params.pause=0.5", "--set", "optim.max_epochs=200")
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("trial 1:"), first
        assert process.stdout.readline().split()[:2] == ["epoch", "1/200"]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "trial 1 cancelled" in out
    assert not alive(int((cli.cwd / "script.pid").read_text()))
    with Store(cli.store) as store:
        assert store.trial(1).state is TrialState.CANCELLED


def test_a_detached_script_run_is_run_by_the_supervisor(cli: Cli) -> None:  # noqa: F811
    result = cli("run", str(preset(cli, TUNEDECK)), "--detach", "--quiet")
    assert result.returncode == 0, result.stderr
    trial_id = int(result.stdout.strip())
    with Store(cli.store) as store:
        wait_until(lambda: store.trial(trial_id).state.is_finished, "the supervisor ran the script")
        record = store.trial(trial_id)
        assert record.state is TrialState.COMPLETED, (record.reason, record.error)
        assert record.epochs_run == 3 and record.best_val_loss == 2 / 3
        time.sleep(0.5)
        assert store.count() == 1  # the supervisor's store still reads and writes after the script closed its own
    status = cli("status")
    assert status.returncode == 0 and "Traceback" not in status.stderr


def test_a_sweep_tunes_a_script_s_own_param(cli: Cli) -> None:  # noqa: F811
    path = preset(cli, PLAIN, """
        [search]
        strategy = "grid"
        parallel = 2
        "params.scale" = [3.0, 1.0, 2.0]
        """)
    result = cli("sweep", str(path))
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("top 3 of 3 by min_val_loss:\n")[1].splitlines()
    assert table[0].split() == ["trial", "min_val_loss", "scale", "state", "epochs", "time"]
    assert [row.split()[1:4] for row in table[2:5]] == [["0.6667", "1", "completed"], ["1.333", "2", "completed"],
                                                       ["2", "3", "completed"]]  # best first
