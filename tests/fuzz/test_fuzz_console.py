"""A handful of hostile inputs through the real console script: exit status 2, one line on stderr, no
traceback, in bounded time and memory (each run has an address-space limit and a timeout)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from tests.fuzz.harness import assert_clean, fuzz_settings, run_console
from tests.fuzz.hostile import grid_preset, mutated_preset

TOY = 'extends = "toy2d-mlp"\n'
CASES = {  # name: (command, preset text, what the one line says)
    "int-past-4300-digits": ("preset show", f"{TOY}[task]\nn_samples = {'9' * 5_000}\n", "longer than 300 characters"),
    "huge-int-for-a-float": ("run", f"{TOY}[optim]\nlr = {'9' * 25}\n", "optim.lr: must be a 64-bit integer"),
    "deep-array": ("preset show", f"{TOY}[task]\noptions = {{ a = {'[' * 3_000}{']' * 3_000} }}\n", "nested more than"),
    "deep-table": ("run", f"{TOY}x = {'{a=' * 1_500}1{'}' * 1_500}\n", "nested more than"),
    "deep-dotted-header": ("preset show", f"{TOY}[{'.'.join(['a'] * 3_000)}]\n", "longer than 300 characters"),
    "deep-spaced-header": ("run", f"{TOY}[{' . '.join(['a'] * 3_000)}]\n", "nested more than"),
    "key-with-crlf": ("run", f'{TOY}[optim]\n"l\\r\\nr" = 1\n', "optim.l\\r\\nr: unknown key"),
    "grid-of-billions": ("sweep", grid_preset(0, 4_000_000_000), "the grid has 4000000001 points"),
    "long-string": ("run", f'{TOY}[task]\npath = "{"x" * 20_000}"\n', "task.path: a string longer than 10,000"),
    "escapes-in-a-name": ("preset show", f'{TOY}[search]\n"\\u001b]0;pwned\\u0007" = 1\n', "search.\\u001b]0;pwned"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_console_script_refuses_hostile_input_in_one_line(case: str, tmp_path: Path) -> None:
    command, text, says = CASES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    outcome = run_console(*command.split(), str(path), cwd=tmp_path)
    assert outcome.code == 2, outcome
    assert_clean(outcome, str(path))
    assert says in outcome.err, outcome.err
    assert not (tmp_path / "trials.db").exists()  # refused before a store was opened


def test_a_long_extends_chain_is_refused_in_one_line(tmp_path: Path) -> None:
    for i in range(40):
        (tmp_path / f"p{i}.toml").write_text(f'extends = "p{i + 1}.toml"\n', encoding="utf-8")
    (tmp_path / "p40.toml").write_text(TOY, encoding="utf-8")
    outcome = run_console("run", str(tmp_path / "p0.toml"), cwd=tmp_path)
    assert outcome.code == 2
    assert_clean(outcome, "p15.toml")
    assert "extends: more than 16 presets in one extends chain, got 'p16.toml'" in outcome.err


def test_a_set_value_of_100k_characters_is_refused_and_shortened(tmp_path: Path) -> None:
    outcome = run_console("run", "toy2d-mlp", "--set", "name=" + "\x1b[2J" * 25_000, cwd=tmp_path)
    assert outcome.code == 2
    assert_clean(outcome, "--set")
    assert "(100,005 characters)" in outcome.err and len(outcome.err) < 300


@fuzz_settings(6)
@given(data=mutated_preset())
def test_mutated_presets_through_the_console_script(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "mutated.toml"
    path.write_bytes(data)
    assert_clean(run_console("preset", "show", str(path), cwd=tmp_path), str(path))
