"""`safe_text`, the one function every printed name, key, value and message goes through."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.config.presets import dict_to_toml
from engine.config.toml_io import tomllib
from engine.errors import ConfigError, safe_text, show_value
from tests.fuzz.harness import UNSAFE, fuzz_settings


def test_terminal_escapes_and_line_breaks_are_shown_not_run() -> None:
    assert safe_text("\x1b[2J\x1b]0;pwned\x07") == "\\u001b[2J\\u001b]0;pwned\\u0007"
    assert safe_text("a\r\nb\tc\x9b1m\u202eabc\udcff") == "a\\r\\nb\\tc\\u009b1m\\u202eabc\\udcff"
    assert safe_text("line\nline", keep_newlines=True) == "line\nline"
    assert safe_text("café 字 ✓") == "café 字 ✓"  # printable text is left alone


def test_a_long_value_is_cut_with_its_length() -> None:
    assert safe_text("x" * 2_500_000, 80) == "x" * 80 + "… (2,500,000 characters)"
    assert show_value("x" * 2_500_000) == "'" + "x" * 80 + "…' (2,500,000 characters)"
    assert show_value(10**5000) == "<an integer of about 5,001 digits>"  # str() of it would raise
    assert show_value([[[[[[1]]]]]]) == "[[[[[...]]]]]"


def test_an_error_message_stays_one_line_whatever_its_parts_hold() -> None:
    error = ConfigError("unknown key", key="optim.l\r\nr", value="\x1b[2J" * 1_000_000, file="a\nb.toml", line=3)
    assert "\n" not in str(error) and "\r" not in str(error) and "\x1b" not in str(error)
    assert str(error).startswith("a\\nb.toml:3: optim.l\\r\\nr: unknown key, got '\\x1b[2J")
    assert str(error).endswith("…' (4,000,000 characters)") and len(str(error)) < 250


@fuzz_settings(300)
@given(text=st.text(), limit=st.one_of(st.none(), st.integers(0, 50)))
def test_nothing_unsafe_survives_and_escaping_twice_changes_nothing(text: str, limit: int | None) -> None:
    shown = safe_text(text, limit)
    assert not UNSAFE.search(shown)
    assert safe_text(shown) == shown
    if limit is not None and len(text) > limit:
        assert shown.endswith(f"… ({len(text):,} characters)")


@fuzz_settings(200)
@given(name=st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_toml_through_safe_text_reads_back_the_same(name: str) -> None:
    """`preset show` and `show` print TOML through safe_text: its escapes are TOML's, so it reads back."""
    text = safe_text(dict_to_toml({"name": name, "task": {"path": name}}), keep_newlines=True)
    assert tomllib.loads(text) == {"name": name, "task": {"path": name}}


def test_the_cockpit_table_shows_a_hostile_name_escaped() -> None:
    from rich.style import Style

    from tui.tablelines import header_strip, row_strip
    from tui.tablemodel import Column

    columns = [Column("id", "id", 4, "int"), Column("name", "name\x1b[2J", 40, "str"),
               Column("task.options.k", "k\u202e", 12, "str")]
    name = "\x1b[2J\x1b]0;pwned\x07run\r\n"
    row = row_strip(columns, ["1", name, "x" * 5_000 + "\x9b"], False, 80, 0, Style(), lambda _: Style())
    header = header_strip(columns, "name", False, 80, 0, Style())
    for strip in (row, header):
        text = "".join(segment.text for segment in strip)
        assert not UNSAFE.search(text), text
    assert "\\u001b[2J\\u001b]0;pwned\\u0007run\\r\\n" in "".join(segment.text for segment in row)
