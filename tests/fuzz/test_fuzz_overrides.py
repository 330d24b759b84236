"""Hostile `--set KEY=VALUE` items and `--store` paths: each is accepted or refused in one clean line."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import assert_clean, fuzz_settings, run_cli
from tests.fuzz.hostile import override


@fuzz_settings(400)
@given(items=st.lists(override(), min_size=1, max_size=3))
def test_hostile_overrides_are_accepted_or_refused_cleanly(items: list[str]) -> None:
    # `--set=ITEM`: an item starting with "-" is still the option's value, as the shell would pass it
    outcome = run_cli("preset", "show", "toy2d-mlp", *(f"--set={item}" for item in items))
    assert_clean(outcome, "--set", "toy2d-mlp.toml")


store_name = st.one_of(st.text(min_size=1, max_size=30), st.integers(200, 5_000).map(lambda n: "x" * n),
                       st.lists(st.sampled_from(["a", "..", "/", "\x1b[2J", "\r\n", "\u202e", "\udcff", "x" * 300]),
                                min_size=1, max_size=6).map("".join))


@fuzz_settings(100)
@given(name=store_name)
def test_a_hostile_store_path_is_refused_cleanly_and_creates_nothing(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "stores"
    folder.mkdir(exist_ok=True)
    outcome = run_cli("trials", f"--store={folder / name.replace(chr(0), '')}")
    assert_clean(outcome)
    assert outcome.code == 2 or "no trials" in outcome.out
    assert list(folder.iterdir()) == []  # a read-only command creates no store and no folder
