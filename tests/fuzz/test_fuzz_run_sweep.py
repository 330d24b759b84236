"""Hostile presets, overrides and options given to `tunedeck run` and `tunedeck sweep`, in this process.

The loader each command calls is wrapped so that a preset it accepts ends the command right there
(nothing is trained and no store is opened); what it refuses must come back as exit status 2 and one
clean line, as from the real command.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tunedeck.cli.cmd_run as cmd_run
import tunedeck.cli.cmd_sweep as cmd_sweep
from tests.fuzz.harness import assert_clean, fuzz_settings, run_cli
from tests.fuzz.hostile import huge_int, mutated_preset, override, search_preset


class Accepted(BaseException):
    """The command's loader accepted its input (a BaseException: the commands catch Exception)."""


def _stop_after(load: Callable[..., Any]) -> Callable[..., Any]:
    def loaded(*args: Any, **kwargs: Any) -> Any:
        load(*args, **kwargs)
        raise Accepted
    return loaded


@pytest.fixture
def stop_when_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_run, "load_preset", _stop_after(cmd_run.load_preset))
    monkeypatch.setattr(cmd_sweep, "load_sweep", _stop_after(cmd_sweep.load_sweep))


def _command(*args: str) -> None:
    try:
        outcome = run_cli(*args)
    except Accepted:
        return
    assert outcome.code == 2, outcome
    assert_clean(outcome, *(a for a in args if a.endswith(".toml")), "--set", "--trials", "--parallel", "--strategy",
                 "--seed", "toy2d-mlp.toml")


@fuzz_settings(300)
@given(data=mutated_preset(), items=st.lists(override(), max_size=2))
def test_run_refuses_a_hostile_preset_cleanly(data: bytes, items: list[str], tmp_path: Path,
                                              stop_when_loaded: None) -> None:
    path = tmp_path / "run.toml"
    path.write_bytes(data)
    _command("run", str(path), "--store", str(tmp_path / "never.db"), *(f"--set={item}" for item in items))


cli_number = st.one_of(st.integers(-3, 200_000).map(str), huge_int.filter(lambda t: len(t) < 40))


@fuzz_settings(300)
@given(data=search_preset(), options=st.lists(st.tuples(st.sampled_from(["--trials", "--parallel", "--seed",
                                                                        "--strategy"]),
                                                       st.one_of(cli_number, st.sampled_from(["grid", "tpe", "x"]))),
                                             max_size=3, unique_by=lambda kv: kv[0]))
def test_sweep_refuses_a_hostile_search_cleanly(data: bytes, options: list[tuple[str, str]], tmp_path: Path,
                                                stop_when_loaded: None) -> None:
    path = tmp_path / "sweep.toml"
    path.write_bytes(data)
    flags = [f"{option}={value}" for option, value in options]
    try:
        _command("sweep", str(path), "--store", str(tmp_path / "never.db"), *flags)
    except SystemExit as exit:  # argparse refusing an option's value: its own two lines, exit 2
        assert exit.code == 2
