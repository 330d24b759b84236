"""Text from a preset, a plugin or a script is printed escaped, never raw: a trial named with terminal
escapes does not clear the screen or set the window title in `tunedeck trials`, `show`, `sweeps` or
`status`; `preset show` keeps and checks the `[search]` table; a store in a missing folder is refused."""
from __future__ import annotations

import re
from pathlib import Path

from engine.config.groups import Config
from engine.states import TrialState
from engine.store import Store
from tests.cli.clirunner import Cli, one_line_error

HOSTILE = "\x1b[2J\x1b]0;pwned\x07evil\r\nname\x9b31m\u202e"
SHOWN = "\\u001b[2J\\u001b]0;pwned\\u0007evil\\r\\nname\\u009b31m\\u202e"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hostile_store(path: Path) -> None:
    with Store(path) as store:
        failed = store.create_trial(Config.from_dict({"name": HOSTILE, "run": {"device": "cpu"}}))
        store.mark_finished(failed, TrialState.FAILED, f"reason {HOSTILE}", f"Traceback\n  error {HOSTILE}")
        store.create_trial(Config.from_dict({"name": "plain " + HOSTILE, "optim": {"lr": 0.5}}))  # queued
        store.create_sweep(f"sweep {HOSTILE}", {"strategy": "random", "optim.lr": [0.1, 0.2]},
                           Config().to_dict(), 2)


def test_names_reasons_and_errors_from_the_store_are_printed_escaped(cli: Cli) -> None:
    _hostile_store(cli.store)
    for args in (["trials"], ["trials", "--columns", "all"], ["trials", "--columns", "name,state"], ["show", "1"],
                 ["show", "2"], ["sweeps"], ["status"], ["trials", "--sort", "name"]):
        result = cli(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert not RAW.search(result.stdout + result.stderr), (args, result.stdout)
        if args[0] == "show":
            assert SHOWN in result.stdout
    show = cli("show", "1").stdout
    assert f"trial 1: {SHOWN}  [failed]" in show and f"why         reason {SHOWN}" in show
    assert "  Traceback\n    error \\u001b[2J\\u001b]0;pwned\\u0007evil\\r\n" in show  # its lines kept, no more
    assert f'  name = "{SHOWN}"' in show  # the config's TOML, still TOML


def test_preset_show_prints_the_search_table_checked_and_reading_back(cli: Cli, tmp_path: Path) -> None:
    result = cli("preset", "show", "toy2d-sweep")
    assert result.returncode == 0, result.stderr
    assert '\n[search]\nstrategy = "tpe"\ntrials = 24\n' in result.stdout
    assert '"optim.lr" = { low = 0.0001, high = 0.3, log = true }\n' in result.stdout
    saved = tmp_path / "saved.toml"
    saved.write_text(result.stdout, encoding="utf-8")
    again = cli("preset", "show", str(saved))
    assert again.stdout.split("\n", 1)[1] == result.stdout.split("\n", 1)[1]
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "toy2d-mlp"\n\n[search]\nstrategy = "grid"\n"optim.lr" = { low = 1e-4, high = 1 }\n',
                   encoding="utf-8")
    one_line_error(cli("preset", "show", str(bad)), f"{bad}:5: search.optim.lr: grid search needs a list of values")


def test_a_store_in_a_missing_folder_is_refused_and_no_folder_is_made(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    for args in (["run", "toy2d-mlp"], ["sweep", "toy2d-sweep", "--detach"], ["trials"], ["toy2d-mlp"]):
        result = cli(*args, "--store", str(missing / "x.db"))
        one_line_error(result, f"cannot open the store {missing / 'x.db'}: folder {missing} does not exist")
        assert not (tmp_path / "no").exists(), args
    file = tmp_path / "afile"
    file.write_text("", encoding="utf-8")
    one_line_error(cli("trials", "--store", str(file / "x.db")), f"folder {file} is not a folder")
    one_line_error(cli("trials", "--store", "x" * 300 + ".db"), "File name too long")


def test_integer_options_past_64_bits_are_refused_by_the_parser(cli: Cli) -> None:
    _hostile_store(cli.store)
    for args in (["show", "9" * 30], ["trials", "--limit", "9" * 30], ["stop", "9" * 5_000]):
        result = cli(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "must be a" in result.stderr and "integer, got '999" in result.stderr and len(result.stderr) < 600
    limit = cli("trials", "--limit", str(2**63 - 1))
    assert limit.returncode == 0, limit.stderr
