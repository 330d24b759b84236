"""`tunedeck trials` fitted to the terminal: the knobs that differ and the key results, never a wrapped
row, a note naming what was left out, and `--columns wide` / `all` for everything. Through the
installed console script, on stores filled by real `tunedeck run`s and by recorded events.
"""
from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios

import pytest

from engine.config.presets import load_preset
from engine.events import EpochEnded, Summary, TrialFinished, TrialStarted, TrialState
from engine.store import Store
from engine.tables.frames import TRIAL_SCHEMA
from tests.cli.clirunner import BIN, Cli, one_line_error

KEY = ["id", "state", "epochs_run", "best_val_loss", "val_acc_at_best", "duration_s"]
KNOBS = {"optim.lr": [0.1, 0.01, 0.001, 0.0003], "model.hidden": [[64], [128, 64], [256, 128, 64], [32]],
         "optim.batch_size": [32, 64, 128, 256], "optim.optimizer": ["adam", "sgd", "adamw", "rmsprop"],
         "reg.dropout": [0.0, 0.1, 0.2, 0.3], "reg.weight_decay": [0.0, 1e-4, 1e-3, 1e-2],
         "model.activation": ["relu", "tanh", "gelu", "relu"], "run.seed": [0, 1, 2, 3]}


def _record(store: Store, updates: dict, val_loss: float, problem: str = "binary") -> None:
    config = load_preset("toy2d-mlp").with_updates(updates)
    trial_id = store.create_trial(config)
    store.start_trial(trial_id, TrialStarted("cpu", 65, 700, 150, 150, 11, problem, 1), {"hostname": "box"})
    acc = None if problem == "regression" else 1 - val_loss / 2
    for epoch in (1, 2):
        store.record(trial_id, EpochEnded(epoch, epoch * 11, val_loss * 1.2, val_loss, acc, 0.01, 0.5, True))
    summary = Summary(2, val_loss, acc, val_loss * 1.1, acc, 2, 22)
    store.record(trial_id, TrialFinished(TrialState.COMPLETED, "ran all 2 epochs", summary, 1.5))


@pytest.fixture
def many_knobs(cli: Cli) -> Cli:
    """Four trials that differ in eight knobs: far wider than any terminal when printed whole."""
    with Store(cli.store) as store:
        for i in range(4):
            _record(store, {key: values[i] for key, values in KNOBS.items()}, 0.5 - i / 10)
    return cli


def _listing(cli: Cli, *args: str, columns: int | None) -> list[str]:
    """The table's lines and then, if there is one, the note from stderr (stdout is the table alone)."""
    cli.env.pop("COLUMNS", None)
    if columns is not None:
        cli.env["COLUMNS"] = str(columns)
    result = cli("trials", *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") <= 1 and "Traceback" not in result.stderr
    return result.stdout.splitlines() + result.stderr.splitlines()


def _left_out(note: str, width: int) -> tuple[int, list[str]]:
    """How many columns a note under the table says were left out, and their names if it gives them."""
    named = re.fullmatch(r"\((\d+) more columns?: (.*); --columns wide shows them\)", note)
    if named:
        return int(named[1]), named[2].split(", ")
    counted = re.fullmatch(rf"\((\d+) more columns? did not fit in {width} characters; --columns wide shows them\)",
                           note)
    assert counted, note
    return int(counted[1]), []


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_the_default_fits_the_width_and_keeps_the_key_results(many_knobs: Cli, width: int) -> None:
    lines = _listing(many_knobs, columns=width)
    assert len(lines) == 2 + 4 + 1  # header, rule, one line per trial, the note: no row wrapped
    assert all(len(line) <= width for line in lines), [len(line) for line in lines]
    header = lines[0].split()
    assert header[0] == "id" and set(KEY) <= set(header)
    assert "task" not in header  # every trial is toy2d: nothing to compare there
    assert [line.split()[0] for line in lines[2:6]] == ["1", "2", "3", "4"]
    wide = _listing(many_knobs, "--columns", "wide", columns=width)[0].split()
    count, names = _left_out(lines[-1], width)
    assert count == len(wide) - 1 - len(header) and set(header) <= set(wide)  # wide also has the task
    assert set(names) <= set(wide) - set(header) and len(names) in (0, count)
    shown_knobs = [c for c in header if c in KNOBS]
    assert shown_knobs == [c for c in wide if c in shown_knobs]  # in the table's usual order
    assert len(shown_knobs) >= {80: 1, 100: 2, 120: 3, 200: 8}[width]
    if width == 200:
        assert names and "name" not in names and set(names) <= {"best_epoch", "max_val_acc", "test_loss", "test_acc"}


def test_a_narrow_terminal_still_shows_the_trial_and_how_it_ended(many_knobs: Cli) -> None:
    lines = _listing(many_knobs, columns=40)
    assert lines[0].split()[:2] == ["id", "state"] and all(len(line) <= 40 for line in lines)
    assert re.fullmatch(r"\(\d+ more columns: --columns wide\)", lines[-1])


def test_without_a_terminal_or_columns_the_table_is_100_wide(many_knobs: Cli) -> None:
    lines = _listing(many_knobs, columns=None)
    assert max(len(line) for line in lines) <= 100
    assert max(len(line) for line in lines[:6]) > 80  # it uses that width, not a terminal's 80


def test_a_terminal_width_is_read_from_the_terminal(many_knobs: Cli) -> None:
    env = {k: v for k, v in many_knobs.env.items() if k != "COLUMNS"}
    leader, follower = pty.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 90, 0, 0))
        result = subprocess.run([str(BIN), "trials"], cwd=many_knobs.cwd, env=env, stdout=follower,
                                stderr=subprocess.PIPE, timeout=120)
        os.close(follower)
        follower = -1
        out = _read_all(leader).decode()
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert result.returncode == 0, result.stderr
    lines = out.replace("\r\n", "\n").splitlines()
    assert lines[0].startswith("id  state") and len(lines) == 6  # the table on the terminal...
    assert _left_out(result.stderr.decode().rstrip("\n"), 90)[0] > 0  # ...and what it left out on stderr
    assert all(len(line) <= 90 for line in lines) and max(len(line) for line in lines[:6]) > 80


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other end closed: everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_wide_and_all_print_everything_unfitted(many_knobs: Cli) -> None:
    wide = _listing(many_knobs, "--columns", "wide", columns=80)
    assert len(wide) == 6 and max(len(line) for line in wide) > 200  # the table as it was: no note
    header = wide[0].split()
    assert header[:4] == ["id", "name", "state", "task"] and set(KNOBS) <= set(header)
    everything = _listing(many_knobs, "--columns", "all", columns=80)
    assert everything[0].split() == list(TRIAL_SCHEMA) and len(everything) == 6
    picked = _listing(many_knobs, "--columns", "id,reg.dropout", columns=30)
    assert picked[0].split() == ["id", "reg.dropout"] and picked[2].split() == ["1", "0"]


def test_a_regression_store_shows_no_accuracy_and_sorting_shows_its_column(cli: Cli) -> None:
    with Store(cli.store) as store:
        for i, lr in enumerate((0.1, 0.01, 0.001)):
            _record(store, {"optim.lr": lr}, 2.0 - i * 0.5, problem="regression")
    lines = _listing(cli, "--sort", "optim.batch_size", columns=100)
    header = lines[0].split()
    assert "val_acc_at_best" not in header and "test_acc" not in header  # no trial has one
    assert header[0] == "id" and "optim.lr" in header and "best_val_loss" in header
    assert "optim.batch_size" in header  # sorted by a knob that does not differ: its values are shown
    assert len(lines) == 6 and set(_left_out(lines[-1], 100)[1]) <= {"best_epoch", "test_loss"}


def test_real_runs_listed_at_80_columns(cli: Cli) -> None:
    fast = ["--set", "optim.max_epochs=2", "--set", "task.n_samples=200", "--quiet"]
    assert cli("run", "toy2d-mlp", *fast).returncode == 0
    assert cli("run", "toy2d-mlp", *fast, "--set", "optim.lr=0.05", "--set", "model.hidden=[32,16]").returncode == 0
    cli.env["COLUMNS"] = "80"
    listing = cli("trials")
    assert len(listing.stdout.splitlines()) == 4 and listing.stderr.count("\n") == 1  # a table on stdout alone
    lines = _listing(cli, columns=80)
    header = lines[0].split()
    assert header == ["id", "state", "optim.lr", "best_val_loss", "val_acc_at_best", "epochs_run", "duration_s"]
    assert lines[2].split()[:3] == ["1", "completed", "0.01"]  # model.hidden is wider than the room left
    assert lines[3].split()[:3] == ["2", "completed", "0.05"]
    assert all(len(line) <= 80 for line in lines)
    assert _left_out(lines[-1], 80)[0] == 6  # name, model.hidden, max_val_acc, best_epoch, test_loss, test_acc
    at_120 = _listing(cli, columns=120)
    assert at_120[0].split() == ["id", "name", "state", "model.hidden", "optim.lr", "best_val_loss", "val_acc_at_best",
                                 "max_val_acc", "epochs_run", "duration_s"]
    assert at_120[3].split()[:5] == ["2", "toy2d-mlp", "completed", "32,16", "0.05"]
    assert _left_out(at_120[-1], 120) == (3, ["best_epoch", "test_loss", "test_acc"])


def test_bad_columns_are_one_line_errors(many_knobs: Cli) -> None:
    one_line_error(many_knobs("trials", "--columns", "best_val_los"), "did you mean 'best_val_loss'", "`wide`")
    one_line_error(many_knobs("trials", "--columns", "wide,id"), "unknown column", "'wide'")
    one_line_error(many_knobs("trials", "--state", "failed", "--columns", "nope"), "unknown column", "'nope'")
    assert many_knobs("trials", "--state", "failed").stdout == "no trials in state failed\n"


def test_long_text_cells_are_clipped_in_the_fitted_table(cli: Cli) -> None:
    with Store(cli.store) as store:
        _record(store, {"name": "a-very-long-trial-name-" + "x" * 60, "optim.lr": 0.1}, 0.3)
        _record(store, {"name": "short", "optim.lr": 0.2}, 0.4)
    lines = _listing(cli, columns=200)
    assert "a-very-long-trial-name-xxxxxx..." in lines[2] and "x" * 40 not in lines[2]
    whole = _listing(cli, "--columns", "wide", columns=200)
    assert "x" * 60 in whole[2]
