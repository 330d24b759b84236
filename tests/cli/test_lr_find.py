"""`tunedeck lr-find` through the installed console script: a real probe on the toy task, nothing stored."""
from __future__ import annotations

import re
import shutil

from tests.cli.clirunner import REPO, Cli, one_line_error

SUGGESTED = re.compile(r"^suggested lr (\S+) \(midway between the steepest fall", re.MULTILINE)


def test_lr_find_prints_the_plot_and_the_suggestion_and_stores_nothing(cli: Cli) -> None:
    result = cli("lr-find", "toy2d-mlp", "--steps", "120", "--end", "100")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    found = SUGGESTED.search(result.stdout)
    assert found, result.stdout
    lr = float(found.group(1))
    assert 1e-7 < lr < 100
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("suggested lr ") and "diverged at lr" in last
    diverged = float(re.search(r"diverged at lr (\S+) ", last).group(1))  # type: ignore[union-attr]
    assert lr < diverged
    assert "loss vs learning rate" in result.stdout and "◆" in result.stdout
    assert "learning rate (log)" in result.stdout and "\x1b[" not in result.stdout  # not a terminal: no colours
    assert result.stderr == ""
    assert not cli.store.exists()  # not a trial: the store is not even created


def test_no_plot_prints_the_line_alone(cli: Cli) -> None:
    result = cli("lr-find", "toy2d-mlp", "--steps", "60", "--no-plot")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 and SUGGESTED.search(result.stdout)


def test_a_ramp_that_diverges_at_once_exits_1_with_the_reason(cli: Cli) -> None:
    result = cli("lr-find", "toy2d-mlp", "--set", "optim.optimizer=sgd", "--start", "1000", "--end", "1e6",
                 "--steps", "30", "--no-plot")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout.startswith("no suggestion: the loss diverged") and "Traceback" not in result.stderr


def test_bad_preset_set_and_ramp_are_one_line_errors(cli: Cli) -> None:
    one_line_error(cli("lr-find", "toy2d-mpl"), "preset", "toy2d-mpl", "toy2d-mlp")
    one_line_error(cli("lr-find", "toy2d-mlp", "--set", "optim.lr=-1"), "optim.lr", "must be > 0", "-1")
    one_line_error(cli("lr-find", "toy2d-mlp", "--set", "optim.lrr=1"), "optim.lrr", "optim.lr")
    one_line_error(cli("lr-find", "toy2d-mlp", "--start", "1", "--end", "0.1"), "lr_find.start", "start < end")
    one_line_error(cli("lr-find", "toy2d-mlp", "--steps", "5"), "lr_find.steps", "got 5")
    one_line_error(cli("lr-find", "surnames-mlp", "--set", "task.path=missing.csv"), "missing.csv")
    assert not cli.store.exists()


def test_the_help_states_the_engines_defaults() -> None:
    from engine.training.lr_probe import DEFAULT_END, DEFAULT_START, DEFAULT_STEPS, MAX_STEPS, MIN_STEPS
    from tunedeck.cli.main import _subcommands, build_parser

    helps = {a.dest: a.help for a in _subcommands(build_parser())["lr-find"]._actions}
    start = float(helps["start"].rsplit("default ", 1)[1].rstrip(")"))
    assert start == DEFAULT_START and f"(default {DEFAULT_END:g})" in helps["end"]
    assert f"{MIN_STEPS} to {MAX_STEPS:,} (default {DEFAULT_STEPS})" in helps["steps"]


def test_the_help_states_every_exit_status() -> None:
    from tunedeck.cli.main import _subcommands, build_parser

    description = " ".join(_subcommands(build_parser())["lr-find"].description.split())
    for said in ("0 with a suggestion", "1 without one or when the task's code raised", "2 bad input",
                 "130 stopped by Ctrl+C"):
        assert said in description


def test_a_plugin_that_raises_is_a_failed_probe_exit_1_not_bad_input(cli: Cli) -> None:
    shutil.copy(REPO / "tests" / "engine" / "plugins" / "tunedeck_test_plugins.py", cli.cwd)
    preset = cli.cwd / "boom.toml"
    preset.write_text('[task]\nname = "tunedeck_test_plugins:boom_model"\n')
    result = cli("lr-find", str(preset), "--steps", "20", "--no-plot")
    assert result.returncode == 1, (result.stdout, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last == "tunedeck: error: the learning-rate probe failed: ValueError: boom"
    assert "Traceback" not in result.stderr


def test_ctrl_c_stops_the_ramp_and_exits_130(cli: Cli) -> None:
    import signal
    import time

    process = cli.popen("lr-find", "toy2d-mlp", "--steps", "100000", "--end", "1e-3", "--no-plot")
    time.sleep(4)  # torch imported and the ramp going (a signal before then ends it the same way)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert err.strip().endswith("tunedeck: interrupted") and "Traceback" not in err and out == ""
