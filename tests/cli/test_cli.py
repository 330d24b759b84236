"""The headless CLI end to end, through the installed console script, training for real."""
from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import polars as pl
import pytest

from tests.cli.clirunner import BIN, REPO, Cli

FAST = ["--set", "optim.max_epochs=4", "--set", "task.n_samples=300"]


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_run_trials_show_export(cli: Cli) -> None:
    first = cli("run", "toy2d-mlp", *FAST)
    assert first.returncode == 0, first.stderr
    assert "epoch 1/4" in first.stdout and "epoch 4/4" in first.stdout
    assert "trial 1 completed" in first.stdout
    assert f"created trial store {cli.store}" in first.stderr
    second = cli("run", "toy2d-mlp", *FAST, "--set", "optim.lr=0.0001", "--quiet")
    assert second.returncode == 0, second.stderr
    assert "epoch" not in second.stdout.split("trial 2")[0]

    listing = cli("trials", "--sort", "best_val_loss")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "name", "state"]
    assert "optim.lr" in lines[0]  # the knob that differs is shown
    ids = [line.split()[0] for line in lines[2:]]
    assert ids == ["1", "2"]  # lr 0.01 reaches a lower val loss than lr 1e-4 in 4 epochs
    assert cli("trials", "--sort", "best_val_loss", "--desc").stdout.splitlines()[2].split()[0] == "2"

    show = cli("show", "2")
    assert show.returncode == 0, show.stderr
    assert "lr = 0.0001" in show.stdout and "ran all 4 epochs" in show.stdout
    assert "torch" in show.stdout and "epochs:" in show.stdout

    out = cli.cwd / "trials.parquet"
    exported = cli("export", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    frame = pl.read_parquet(out)
    assert frame["id"].to_list() == [1, 2] and frame["optim.lr"].to_list() == [0.01, 0.0001]
    again = cli("export", "-o", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    history = cli("export", "-o", str(cli.cwd / "h.csv"), "--history")
    assert history.returncode == 0, history.stderr
    rows = pl.read_csv(cli.cwd / "h.csv")
    assert set(rows["metric"].unique()) >= {"train_loss", "val_loss", "val_acc", "lr", "step_loss"}
    assert rows.filter(pl.col("metric") == "val_loss").height == 8


def test_bad_preset_exits_2_with_the_place_and_no_traceback(cli: Cli) -> None:
    bad = cli.cwd / "bad.toml"
    bad.write_text('[optim]\nlr = -0.1\n')
    result = cli("run", str(bad))
    assert result.returncode == 2
    _no_traceback(result)
    assert f"{bad}:2: optim.lr: must be > 0, got -0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert not cli.store.exists()  # nothing was recorded for input that cannot run

    typo = cli("run", "toy2d-mlp", "--set", "optim.lrr=0.1")
    assert typo.returncode == 2 and "did you mean 'optim.lr'" in typo.stderr
    _no_traceback(typo)
    unknown = cli("run", "toy2d-mpl")
    assert unknown.returncode == 2 and "did you mean 'toy2d-mlp'" in unknown.stderr


def test_missing_data_file_is_refused_before_training(cli: Cli) -> None:
    result = cli("run", "surnames-mlp", "--set", "task.path=nowhere.csv")
    assert result.returncode == 2
    _no_traceback(result)
    assert "nowhere.csv" in result.stderr and "task.path" in result.stderr
    assert not cli.store.exists()


def test_ctrl_c_cancels_and_records_the_trial(cli: Cli) -> None:
    proc = subprocess.Popen([str(BIN), "run", "curve", "--set", "optim.max_epochs=100000"], cwd=cli.cwd,
                            env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "epoch" in line and "/100000" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "cancelled" in out
    _no_traceback(subprocess.CompletedProcess([], proc.returncode, out, err))
    with sqlite3.connect(cli.store) as db:
        state, reason = db.execute("select state, reason from trials").fetchone()
    assert state == "cancelled" and "cancelled by the user" in reason


def test_preset_list_and_show(cli: Cli) -> None:
    listing = cli("preset", "list")
    assert listing.returncode == 0
    for name in ("toy2d-mlp", "toy2d-perceptron", "curve", "curve-l2", "surnames-mlp", "surnames-cnn", "template"):
        assert name in listing.stdout
    shown = cli("preset", "show", "curve-l2", "--set", "optim.lr=0.5")
    assert shown.returncode == 0
    assert "weight_decay = 0.01" in shown.stdout and "lr = 0.5" in shown.stdout
    saved = cli.cwd / "mine.toml"
    saved.write_text(shown.stdout)
    rerun = cli("preset", "show", str(saved))
    assert rerun.stdout.split("\n", 1)[1] == shown.stdout.split("\n", 1)[1]


def test_every_command_has_help_and_help_is_fast(cli: Cli) -> None:
    for command in ([], ["run"], ["trials"], ["show"], ["export"], ["preset"], ["preset", "show"]):
        result = cli(*command, "--help")
        assert result.returncode == 0 and "usage: tunedeck" in result.stdout


def test_read_commands_on_a_missing_store_say_so(cli: Cli) -> None:
    result = cli("trials")
    assert result.returncode == 2 and "no trial store here yet" in result.stderr
    _no_traceback(result)
    assert not cli.store.exists()


def test_unknown_sort_column_and_trial(cli: Cli) -> None:
    assert cli("run", "toy2d-perceptron", "--set", "optim.max_epochs=2", "--quiet").returncode == 0
    result = cli("trials", "--sort", "best_val_los")
    assert result.returncode == 2 and "best_val_loss" in result.stderr
    _no_traceback(result)
    missing = cli("show", "42")
    assert missing.returncode == 2 and "42" in missing.stderr
    _no_traceback(missing)


def test_plugin_example_runs_from_its_folder(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "examples"
    shutil.copytree(REPO / "examples", work)
    result = cli("run", "spirals.toml", "--set", "optim.max_epochs=2", "--set", "task.options.n_per_class=100",
                 cwd=work)
    assert result.returncode == 0, result.stderr
    assert "(task spirals:build)" in result.stdout
    listing = cli("trials", cwd=work)
    assert "spirals:build" in listing.stdout


def test_the_tui_entry_refuses_a_bad_preset_before_opening(cli: Cli) -> None:
    result = cli("no-such-preset")
    assert result.returncode == 2 and "did you mean" not in result.stdout
    assert "no-such-preset" in result.stderr
    _no_traceback(result)
    assert not cli.store.exists()


def test_the_tui_entry_reports_a_bad_store_or_option_without_opening(cli: Cli) -> None:
    garbage = cli.cwd / "g.db"
    garbage.write_text("not a database")
    result = cli("--store", str(garbage))
    assert result.returncode == 2 and "not a tunedeck store" in result.stderr
    _no_traceback(result)
    assert garbage.read_text() == "not a database"  # nothing already stored is touched
    parallel = cli("--parallel", "0")
    assert parallel.returncode == 2 and "--parallel: must be >= 1, got 0" in parallel.stderr


@pytest.mark.parametrize(("typed", "meant"), [("trails", "trials"), ("shwo", "show"), ("stauts", "status"),
                                              ("sweps", "sweeps")])
def test_a_mistyped_command_is_not_taken_for_a_preset(cli: Cli, typed: str, meant: str) -> None:
    result = cli(typed)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"tunedeck: error: {typed!r} is neither a command nor a preset; "
                                      f"did you mean `tunedeck {meant}`?")
    assert not cli.store.exists()  # nothing was opened


def test_a_preset_file_named_like_a_command_still_opens_as_a_preset(cli: Cli) -> None:
    (cli.cwd / "trails").write_text("not toml [")  # a file by that name: it is the preset meant
    result = cli("trails")
    assert result.returncode == 2 and "did you mean `tunedeck trials`" not in result.stderr
    assert "trails" in result.stderr
