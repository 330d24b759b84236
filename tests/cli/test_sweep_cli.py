"""`tunedeck sweep` end to end through the installed console script, training tiny trials for real."""
from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.states import TrialState
from engine.store import Store
from tests.cli.clirunner import BIN, Cli

PRESET = """\
extends = "toy2d-mlp"

[task]
n_samples = 300

[model]
hidden = [8]

[optim]
max_epochs = 5

[search]
strategy = "random"
trials = 4
parallel = 2
seed = 3
"optim.lr" = { low = 1e-3, high = 1e-1, log = true }
"model.hidden" = [[8], [4]]
"""
WAIT_S = 60
TRIAL_LINE = re.compile(r"^\[(\d+)/(\d+)\] trial (\d+) +(\w+) +min_val_loss (\S+) +lr=(\S+) +hidden=(\[.*\])")


def _preset(cli: Cli, text: str = PRESET, name: str = "mysweep.toml") -> Path:
    path = cli.cwd / name
    path.write_text(text, encoding="utf-8")
    return path


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def _trial_lines(stdout: str) -> list[re.Match]:
    return [m for m in map(TRIAL_LINE.match, stdout.splitlines()) if m]


def test_sweep_runs_prints_a_line_per_trial_and_the_top_table(cli: Cli) -> None:
    path = _preset(cli)
    result = cli("sweep", str(path))  # the default: trials in child processes, two at a time
    assert result.returncode == 0, result.stderr
    _no_traceback(result)
    out = result.stdout
    assert out.startswith("sweep 1 started: mysweep-random: random, 4 trials (0 done), 2 at a time, pruner none, "
                          "seed 3, minimize val_loss")
    lines = _trial_lines(out)
    assert [(m[1], m[2]) for m in lines] == [("1", "4"), ("2", "4"), ("3", "4"), ("4", "4")]  # in finishing order
    assert all(m[4] == "completed" for m in lines)
    assert "top 4 of 4 by min_val_loss:" in out
    table = out.split("top 4 of 4 by min_val_loss:\n", 1)[1].splitlines()
    assert table[0].split() == ["trial", "min_val_loss", "lr", "hidden", "state", "epochs", "time"]
    rows = [row.split() for row in table[2:6]]
    assert sorted(int(r[0]) for r in rows) == [1, 2, 3, 4]
    losses = [float(r[1]) for r in rows]
    assert losses == sorted(losses)  # best first
    assert out.rstrip().splitlines()[-1] == "sweep 1 completed: all 4 trials ran"

    with Store(cli.store) as store:
        trials = store.trials()
        record = store.sweep(1)
        assert len(trials) == 4 and all(t.sweep_id == 1 for t in trials)
        assert all(t.state is TrialState.COMPLETED and t.epochs_run == 5 for t in trials)
        assert sorted(t.name for t in trials) == [f"mysweep-random #{n}" for n in range(1, 5)]
        assert (record.state, record.planned, record.counts) == ("completed", 4, {"completed": 4})
        assert record.spec["seed"] == 3 and record.base["optim"]["max_epochs"] == 5
        by_id = {t.id: t for t in trials}
        for m in lines:  # each printed line is its stored trial
            t = by_id[int(m[3])]
            assert m[7] == json.dumps(t.config["model"]["hidden"])
            assert float(m[5]) == pytest.approx(t.best_val_loss, rel=1e-3)
    with sqlite3.connect(cli.store) as db:
        (supervisor,) = db.execute("SELECT pid FROM sweeps WHERE id = 1").fetchone()
    trainers = {t.env["pid"] for t in trials}
    assert supervisor not in trainers and len(trainers) == 2  # two child processes trained the four trials

    listed = cli("sweeps")
    assert listed.returncode == 0, listed.stderr
    row = listed.stdout.splitlines()[2].split()
    best = min(trials, key=lambda t: t.best_val_loss)
    assert row[:5] == ["1", "mysweep-random", "random", "completed", "4/4"]
    assert row[-1] == f"(#{best.id})"
    one = cli("trials", "--sweep", "1", "--columns", "id,state")
    assert [line.split()[0] for line in one.stdout.splitlines()[2:]] == ["1", "2", "3", "4"]
    unknown = cli("trials", "--sweep", "7")
    assert unknown.returncode == 2 and "no sweep with id 7" in unknown.stderr


def test_a_preset_without_search_exits_2_and_says_so(cli: Cli) -> None:
    path = _preset(cli, 'extends = "toy2d-mlp"\n', name="plain.toml")
    result = cli("sweep", str(path))
    assert result.returncode == 2
    _no_traceback(result)
    assert result.stdout == ""
    assert result.stderr.splitlines()[0].startswith(f"tunedeck: error: {path}: has no [search] table to sweep")
    assert not cli.store.exists()


def test_a_bad_search_exits_2_naming_file_line_and_key_and_runs_nothing(cli: Cli) -> None:
    path = _preset(cli, PRESET.replace('"optim.lr" = { low = 1e-3, high = 1e-1, log = true }',
                                       '"optim.lr" = { low = 1e-1, high = 1e-3, log = true }'))
    result = cli("sweep", str(path))
    assert result.returncode == 2
    _no_traceback(result)
    assert result.stderr == (f"tunedeck: error: {path}:17: search.optim.lr: `low <= high` must hold, "
                             f"got low=0.1, high=0.001\n")
    assert not cli.store.exists()  # no sweep, no trial: nothing was even opened

    option = cli("sweep", str(_preset(cli)), "--trials", "0")
    assert option.returncode == 2 and option.stderr == "tunedeck: error: --trials: must be >= 1 and <= 100000, got 0\n"
    assert not cli.store.exists()


def test_ctrl_c_stops_the_sweep_and_cancels_its_running_trials(cli: Cli) -> None:
    """Also: --trials and --seed override the table (one subprocess less to pay for)."""
    path = _preset(cli)
    proc = subprocess.Popen([str(BIN), "sweep", str(path), "--trials", "3", "--seed", "5", "--executor", "thread",
                             "--set", "optim.max_epochs=100000", "--set", "early_stop.patience=0"],
                            cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not _running(cli.store):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no trial started running"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    _no_traceback(subprocess.CompletedProcess([], proc.returncode, out, err))
    assert "stopping the sweep" in err
    assert "sweep 1 started: mysweep-random: random, 3 trials (0 done), 2 at a time, pruner none, seed 5," in out
    assert "go on with it: tunedeck sweep --resume 1" in out
    stopped = r"^sweep 1 stopped: stopped by Ctrl\+C after 0 of 3 trials; \d cancelled, run again on resume$"
    assert re.search(stopped, out, re.MULTILINE), out
    with sqlite3.connect(cli.store) as db:
        state, reason, planned, spec = db.execute(
            "SELECT state, reason, planned, spec_json FROM sweeps WHERE id = 1").fetchone()
        trials = db.execute("SELECT state, reason, sweep_id FROM trials").fetchall()
    assert state == "stopped" and reason.startswith("stopped by Ctrl+C")
    assert planned == 3 and json.loads(spec)["trials"] == 3 and json.loads(spec)["seed"] == 5
    assert 1 <= len(trials) <= 2  # the running ones; the third was never started
    assert all(s == "cancelled" for s, _, _ in trials)  # none left running or queued
    assert all(r == "cancelled with its sweep (stopped by Ctrl+C)" and sid == 1 for _, r, sid in trials)
    printed = re.findall(r"^\[\d/3\] trial \d+ +cancelled ", out, re.MULTILINE)
    assert len(printed) == len(trials)  # a line for each, numbered out of the overridden count


def _running(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM trials WHERE state = 'running'").fetchone()[0] > 0
    except sqlite3.OperationalError:  # the file exists but its tables are not created yet
        return False


def test_trial_lines_keep_their_numbers_in_order_when_workers_finish_at_once(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The sweep's worker threads report finished trials at the same moment; the counter must stay with its line."""
    from engine.events import Summary, TrialFinished
    from tunedeck.cli.cmd_sweep import _Printer

    printer = _Printer()
    printer.planned, printer.keys, printer.width = 400, ["optim.lr"], 3
    finished = TrialFinished(TrialState.COMPLETED, "ran all epochs", Summary(best_val_loss=0.5), 0.1)

    def report() -> None:
        for trial_id in range(50):
            printer.trial(trial_id, finished, {"optim.lr": 0.1})

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to make any race show
    try:
        workers = [threading.Thread(target=report) for _ in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(WAIT_S)
    finally:
        sys.setswitchinterval(switch)
    numbers = [int(n) for n in re.findall(r"^\[ *(\d+)/400\]", capsys.readouterr().out, re.MULTILINE)]
    assert numbers == list(range(1, 401))


def test_a_sweep_whose_process_died_resumes_and_reruns_only_the_lost_trial(cli: Cli) -> None:
    path = _preset(cli)
    first = cli("sweep", str(path), "--trials", "3", "--executor", "thread")
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(cli.store) as db:  # as if the machine went down while the last trial ran
        db.execute("UPDATE sweeps SET state = 'interrupted', reason = 'process 1 ended while the sweep ran'")
        db.execute("UPDATE trials SET state = 'interrupted' WHERE id = 3")
    db.close()
    refused = cli("sweep", "--resume", "1", "--set", "optim.lr=0.1")
    assert refused.returncode == 2 and "only --parallel may change, not --set" in refused.stderr
    both = cli("sweep", str(path), "--resume", "1")
    assert both.returncode == 2 and "give a PRESET to start a sweep, or --resume ID" in both.stderr

    again = cli("sweep", "--resume", "1", "--executor", "thread")
    assert again.returncode == 0, again.stderr
    _no_traceback(again)
    assert again.stdout.startswith("sweep 1 resumed: mysweep-random: random, 3 trials (2 done),")
    assert [(m[1], m[2]) for m in _trial_lines(again.stdout)] == [("3", "3")]  # one more trial, numbered on
    assert again.stdout.rstrip().endswith("sweep 1 completed: all 3 trials ran")
    with Store(cli.store) as store:
        states = [t.state for t in store.trials()]
        assert states == [TrialState.COMPLETED, TrialState.COMPLETED, TrialState.INTERRUPTED, TrialState.COMPLETED]
        assert store.sweep(1).state == "completed"
    done = cli("sweep", "--resume", "1")
    assert done.returncode == 2 and "has already completed" in done.stderr


def test_sweeps_shows_the_best_trial_by_the_sweeps_own_metric(cli: Cli) -> None:
    path = _preset(cli, PRESET.replace('seed = 3', 'seed = 3\nmetric = "train_loss"'))
    assert cli("sweep", str(path), "--trials", "2", "--executor", "thread").returncode == 0
    with Store(cli.store) as store:
        best = min((min(e["train_loss"] for e in store.epochs(t.id)), t.id) for t in store.trials())
    row = cli("sweeps").stdout.splitlines()[2].split()
    assert row[-3:] == ["train_loss", f"{best[0]:.4g}", f"(#{best[1]})"]
