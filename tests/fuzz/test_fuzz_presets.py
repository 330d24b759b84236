"""Hostile preset files through `tunedeck preset show` (the loader `run`, `sweep` and the cockpit share):
each is accepted, or refused in one line that names the file, within bounded time and memory."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from engine.config.limits import MAX_EXTENDS
from tests.fuzz.harness import assert_clean, body, fuzz_settings, run_cli
from tests.fuzz.hostile import mutated_preset, raw_file, search_preset


@fuzz_settings(600)
@given(data=mutated_preset())
def test_a_mutated_toy_preset_is_accepted_or_refused_cleanly(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "mutated.toml"
    path.write_bytes(data)
    outcome = run_cli("preset", "show", str(path))
    assert_clean(outcome, str(path))
    if outcome.code == 0:  # what it prints is a preset that reads back as the same
        again = tmp_path / "again.toml"
        again.write_text(outcome.out, encoding="utf-8")
        shown = run_cli("preset", "show", str(again))
        assert shown.code == 0, shown.err
        assert body(shown.out) == body(outcome.out)


@fuzz_settings(250)
@given(data=raw_file)
def test_any_bytes_as_a_preset_are_accepted_or_refused_cleanly(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "raw.toml"
    path.write_bytes(data)
    assert_clean(run_cli("preset", "show", str(path)), str(path))


@fuzz_settings(400)
@given(data=search_preset())
def test_a_hostile_search_table_is_accepted_or_refused_cleanly(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "search.toml"
    path.write_bytes(data)
    outcome = run_cli("preset", "show", str(path))
    assert_clean(outcome, str(path))
    if outcome.code == 0:
        assert "\n[search]\n" in outcome.out


@fuzz_settings(40)
@given(length=st.integers(1, 3 * MAX_EXTENDS), loop_to=st.one_of(st.none(), st.integers(0, 3 * MAX_EXTENDS)))
def test_an_extends_chain_of_any_length_ends_or_is_refused(length: int, loop_to: int | None, tmp_path: Path) -> None:
    """p0 extends p1 ... extends p(length-1), which extends the toy preset or (loop_to) an earlier one."""
    folder = tmp_path / f"chain{length}-{loop_to}"
    folder.mkdir()
    for i in range(length):
        base = f"p{i + 1}.toml" if i + 1 < length else (f"p{loop_to % length}.toml" if loop_to is not None
                                                         else "toy2d-mlp")
        (folder / f"p{i}.toml").write_text(f'extends = "{base}"\n[optim]\nlr = {0.001 * (i + 1)}\n', encoding="utf-8")
    outcome = run_cli("preset", "show", str(folder / "p0.toml"))
    assert_clean(outcome, str(folder))
    chain = length + 1  # the toy preset ends it
    if loop_to is None and chain <= MAX_EXTENDS:
        assert outcome.code == 0
    else:
        assert outcome.code == 2
