"""`run/sweep --detach`, `status`, `stop` and `watch` end to end: the console script, a real supervisor
process, tiny toy2d trials trained for real. The `cli` fixture shuts the store's supervisor down after
each test."""
from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from engine.config.presets import load_preset
from engine.states import SweepState, TrialState
from engine.store import Store, TrialRecord
from engine.store.recovery import SUPERVISOR
from engine.supervisor.files import SupervisorFiles, running_pid
from tests.cli.clirunner import Cli, one_line_error

RUN = """\
extends = "toy2d-mlp"
name = "tiny"

[task]
n_samples = 300

[model]
hidden = [8]

[optim]
max_epochs = 6

[early_stop]
patience = 0
"""
SWEEP = RUN + """
[search]
strategy = "random"
trials = 4
parallel = 2
seed = 3
"optim.lr" = { low = 1e-3, high = 1e-1, log = true }
"""
LONG = ["--set", "optim.max_epochs=100000"]
WAIT_S = 30
EPOCH_LINE = re.compile(r"^  epoch +(\d+)/(\d+)  train_loss \S+  val_loss \S+  val_acc \S+  lr \S+  \S+s(  \*)?$")


def _preset(cli: Cli, text: str = RUN, name: str = "tiny.toml") -> str:
    path = cli.cwd / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _wait_for(test: Callable[[], bool], what: str, seconds: float = WAIT_S) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _trial(cli: Cli, trial_id: int) -> TrialRecord:
    with Store(cli.store) as store:
        return store.trial(trial_id)


def _running(cli: Cli, trial_id: int) -> bool:
    if not cli.store.exists():
        return False
    with Store(cli.store) as store:
        trials = {t.id: t for t in store.trials()}
    return trial_id in trials and trials[trial_id].state == TrialState.RUNNING and trials[trial_id].epochs_run > 0


def _supervisor(cli: Cli) -> int | None:
    return running_pid(SupervisorFiles(cli.store.resolve()))


def test_run_detach_returns_at_once_and_watch_follows_the_trial_to_its_end(cli: Cli) -> None:
    queued = cli("run", _preset(cli), "--detach", "--set", "optim.max_epochs=300")
    assert queued.returncode == 0, queued.stderr
    match = re.fullmatch(r"trial 1 queued for the supervisor \(pid (\d+)\): follow it with `tunedeck watch 1`, "
                         r"stop it with `tunedeck stop 1`\n", queued.stdout)
    assert match, queued.stdout
    assert int(match[1]) == _supervisor(cli)

    watched = cli("watch", "1", timeout=WAIT_S)
    assert watched.returncode == 0, watched.stderr
    lines = watched.stdout.splitlines()
    assert lines[0] == f"trial 1: tiny (task toy2d) -> {cli.store}"
    epochs = [EPOCH_LINE.match(line) for line in lines if line.startswith("  epoch")]
    assert all(epochs) and [int(m[1]) for m in epochs if m] == list(range(1, 301))  # each once, in order
    assert {m[2] for m in epochs if m} == {"300"}
    assert lines[-2] == "trial 1 completed: ran all 300 epochs; " + lines[-2].split("; ", 1)[1]
    assert lines[-1].startswith("  best_epoch ") and " epochs 300 " in lines[-1]
    record = _trial(cli, 1)
    assert record.state == TrialState.COMPLETED and record.owner == SUPERVISOR


def test_watch_prints_what_run_printed(cli: Cli) -> None:
    run = cli("run", _preset(cli))
    assert run.returncode == 0, run.stderr
    watched = cli("watch", "1")
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout == run.stdout  # the header, the started line, each epoch (and its `*`), the summary
    assert _supervisor(cli) is None  # a foreground run starts no supervisor


def test_status_shows_a_running_trial_and_stop_cancels_it(cli: Cli) -> None:
    assert cli("run", _preset(cli), "--detach", *LONG).returncode == 0
    pid = _supervisor(cli)
    _wait_for(lambda: _running(cli, 1), "trial 1 to run")

    status = cli("status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"supervisor: pid {pid}, up ")
    assert f"log {cli.store.with_name('trials.supervisor.log')}" in status.stdout
    row = next(line for line in status.stdout.splitlines() if line.split()[:2] == ["1", "tiny"])
    assert "/100000" in row and f"(supervisor {pid})" in row
    assert "no queued trials" in status.stdout and "no active sweeps" in status.stdout

    stopped = cli("stop", "1")
    assert stopped.returncode == 0, stopped.stderr
    assert re.fullmatch(r"trial 1 cancelled after \d+ epochs: cancelled with tunedeck stop\n", stopped.stdout)
    assert _trial(cli, 1).state == TrialState.CANCELLED
    after = cli("status").stdout
    assert after.startswith(f"supervisor: pid {pid}, up ") and "no running trials" in after

    one_line_error(cli("stop", "1"), "trial 1 has already ended (cancelled)")
    watched = cli("watch", "1", "--quiet")
    assert watched.returncode == 130  # as `run` exits for a cancelled trial
    assert watched.stdout.startswith("trial 1 cancelled: cancelled with tunedeck stop\n  best_epoch ")


def test_stop_a_queued_trial_needs_no_supervisor_but_a_claimed_one_does(cli: Cli) -> None:
    config = load_preset(_preset(cli))
    with Store(cli.store) as store:
        queued = store.create_trial(config, for_supervisor=True)
        claimed = store.create_trial(config, for_supervisor=True)
        assert store.claim_trial(claimed)  # held by this (live) process, as a supervisor would hold it
    stopped = cli("stop", str(queued))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"trial {queued} cancelled before it started: cancelled with tunedeck stop\n"
    assert "no supervisor is running for" in cli("status").stdout
    one_line_error(cli("stop", str(claimed)), "no supervisor is running for")
    assert _trial(cli, claimed).state == TrialState.QUEUED
    assert _supervisor(cli) is None


def test_a_foreground_trial_is_not_stopped_and_watch_ctrl_c_leaves_it_running(cli: Cli) -> None:
    run = cli.popen("run", _preset(cli), *LONG)
    try:
        _wait_for(lambda: _running(cli, 1), "the foreground trial to run")
        one_line_error(cli("stop", "1"), f"trial 1 runs in process {run.pid}", "Ctrl+C")
        status = cli("status")
        assert "no supervisor is running for" in status.stdout and f"{run.pid} (foreground)" in status.stdout

        watch = cli.popen("watch", "1")
        assert watch.stdout is not None
        lines = [watch.stdout.readline() for _ in range(4)]  # header, started line, two epochs
        assert lines[0].startswith("trial 1: tiny") and EPOCH_LINE.match(lines[3].rstrip("\n")), lines
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=10)
        assert watch.returncode == 0, err
        assert "stopped watching; trial 1 goes on" in err and "Traceback" not in err
        assert _trial(cli, 1).state == TrialState.RUNNING
    finally:
        run.send_signal(signal.SIGINT)
        run.communicate(timeout=20)
    assert run.returncode == 130
    assert _supervisor(cli) is None


def test_sweep_detach_runs_the_sweep_in_the_supervisor(cli: Cli) -> None:
    queued = cli("sweep", _preset(cli, SWEEP), "--detach", "--set", "optim.max_epochs=3")
    assert queued.returncode == 0, queued.stderr
    assert re.fullmatch(r"sweep 1 queued for the supervisor \(pid \d+\): tiny-random: random, 4 trials, 2 at a "
                        r"time; follow it with `tunedeck sweeps` or `tunedeck status`, stop it with "
                        r"`tunedeck stop --sweep 1`\n", queued.stdout), queued.stdout

    def completed() -> bool:
        with Store(cli.store) as store:
            return store.sweep(1).state == SweepState.COMPLETED

    _wait_for(completed, "the sweep to complete")
    sweeps = cli("sweeps").stdout.splitlines()
    assert sweeps[2].split()[:5] == ["1", "tiny-random", "random", "completed", "4/4"]
    with Store(cli.store) as store:
        trials = store.trials(sweep_id=1)
    assert len(trials) == 4 and {t.owner for t in trials} == {SUPERVISOR}
    assert all(t.state == TrialState.COMPLETED and t.epochs_run == 3 for t in trials)


def test_stop_a_sweep_resume_it_detached_with_another_parallel_and_stop_all(cli: Cli) -> None:
    sweep = _preset(cli, SWEEP)
    assert cli("sweep", sweep, "--detach", "--parallel", "1", *LONG).returncode == 0
    _wait_for(lambda: _running(cli, 1), "the sweep's first trial to run")

    stopped = cli("stop", "--sweep", "1")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith("sweep 1 stopped: stopped with tunedeck stop")
    assert stopped.stdout.endswith("\ngo on with it: tunedeck sweep --resume 1 --detach\n")
    assert _trial(cli, 1).state == TrialState.CANCELLED
    one_line_error(cli("stop", "--sweep", "1"), "sweep 1 (tiny-random) has already ended (stopped")

    one_line_error(cli("sweep", "--resume", "1", "--detach", "--parallel", "0"), "--parallel: must be >= 1 and <= 64, got 0")
    one_line_error(cli("sweep", "--resume", "1", "--detach", "--trials", "2"), "only --parallel may change")
    resumed = cli("sweep", "--resume", "1", "--detach", "--parallel", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("sweep 1 resumed by the supervisor (pid ")
    assert "tiny-random: 0 of 4 done, 2 at a time" in resumed.stdout
    with Store(cli.store) as store:
        assert store.sweep(1).spec["parallel"] == 2

    def two_running() -> bool:
        with Store(cli.store) as store:
            return store.sweep(1).count(TrialState.RUNNING) == 2

    _wait_for(two_running, "two trials of the resumed sweep to run")
    everything = cli("stop", "--all")
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout == "stopped 1 sweep and 2 trials of the supervisor\n"
    with Store(cli.store) as store:
        assert store.sweep(1).state == SweepState.STOPPED
        # The trial cancelled with the first stop goes on as itself if it had written a checkpoint (two
        # trials), else its point runs again as a new trial (three).
        carried = bool(store.trial(1).run_info.get("resumed"))
        assert [t.state for t in store.trials()] == [TrialState.CANCELLED] * (2 if carried else 3)
    nothing = cli("stop", "--all")
    assert nothing.returncode == 0 and nothing.stdout.startswith("nothing to stop")


def test_user_errors_are_one_line_and_queue_nothing(cli: Cli, tmp_path: Path) -> None:
    preset = _preset(cli)
    one_line_error(cli("run", preset, "--detach", "--set", "optim.lr=-1"), "optim.lr: must be > 0")
    one_line_error(cli("sweep", _preset(cli, SWEEP, "s.toml"), "--detach", "--strategy", "nope"), "--strategy")
    one_line_error(cli("sweep", _preset(cli, SWEEP, "s.toml"), "--detach", "--executor", "thread"), "--executor")
    one_line_error(cli("stop", "1"), "no trial store here yet")
    one_line_error(cli("status"), "no trial store here yet")
    assert not cli.store.exists() and _supervisor(cli) is None  # nothing was queued, nothing started

    with Store(cli.store):
        pass
    one_line_error(cli("stop", "7"), "no trial with id 7")
    one_line_error(cli("watch", "7"), "no trial with id 7")
    one_line_error(cli("stop", "--sweep", "7"), "no sweep with id 7")
    one_line_error(cli("sweep", "--resume", "7", "--detach"), "no sweep with id 7")
    status = cli("status")
    assert status.returncode == 0
    assert status.stdout == (f"no supervisor is running for {cli.store}\nno running trials\nno queued trials\n"
                             "no active sweeps\n")
    usage = cli("stop")
    assert usage.returncode == 2 and "one of the arguments ID --sweep --all is required" in usage.stderr


def test_the_new_commands_have_help_and_are_listed(cli: Cli) -> None:
    top = cli("--help").stdout
    for command in ("status", "watch", "stop"):
        assert f"  tunedeck {command} " in top
        result = cli(command, "--help")
        assert result.returncode == 0 and f"usage: tunedeck {command}" in result.stdout
    for command in ("run", "sweep"):
        assert "--detach" in cli(command, "--help").stdout
