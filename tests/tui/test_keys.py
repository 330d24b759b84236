"""The keys are written once, on the bindings: the help, the palette and the README follow them."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

from textual.binding import Binding

from engine.config.presets import load_preset
from engine.store import Store
from tests.tui.supervised import supervised_app
from tui.app import TunedeckApp
from tui.cockpit_keys import COCKPIT_BINDINGS, KEY_GROUPS, palette_entries
from tui.screens.cockpit import CockpitScreen
from tui.screens.help import HelpScreen, help_text, key_label, rows
from tui.widgets.trial_table import TrialTable

README = Path(__file__).parents[2] / "README.md"


def bindings(items: object) -> list[Binding]:
    return [b for b in items if isinstance(b, Binding)]  # type: ignore[attr-defined]


def shown_keys(binding: Binding) -> list[str]:
    """The keys as the help shows them: `X,shift+x` -> ['X'], `plus` -> ['+']."""
    return key_label(binding.key).split(" / ")


def readme_keys() -> set[str]:
    """Every key in the first column of the README's cockpit table (`s / S, r, f` -> s, S, r, f)."""
    section = README.read_text(encoding="utf-8").split("## The cockpit", 1)[1].split("\n## ", 1)[0]
    keys: set[str] = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("key", "") or set(cells[0]) <= {"-"}:
            continue
        keys.update(k.strip() for k in re.split(r",| / | or ", cells[0]) if k.strip())
    return keys


def test_every_cockpit_table_and_app_key_is_in_the_readme_table() -> None:
    documented = readme_keys()
    assert {"ctrl+r", "+", "-", "s", "S"} <= documented  # the parse found the table
    every = bindings(COCKPIT_BINDINGS) + bindings(TrialTable.BINDINGS) + bindings(TunedeckApp.BINDINGS)
    missing = sorted({k for b in every for k in shown_keys(b)} - documented)
    assert not missing, f"keys bound but not in README.md's cockpit table: {missing}"


def test_the_cockpits_keys_are_the_screens_own_and_each_has_a_group_and_a_description() -> None:
    assert CockpitScreen.BINDINGS is COCKPIT_BINDINGS
    grouped = [a for actions in KEY_GROUPS.values() for a in actions]
    actions = {b.action for b in bindings(COCKPIT_BINDINGS)}
    table = {a for a in actions if a.startswith("table(")}  # the table's keys from anywhere: the Table section
    assert sorted(grouped) == sorted(actions - table)  # each action in exactly one group
    assert table == {f"table('{b.action}')" for b in bindings(TrialTable.BINDINGS) if b.key in "sSrf" or "shift+s" in b.key}
    for b in bindings(COCKPIT_BINDINGS):
        assert b.description and b.tooltip, b.action
    assert not any(b.action in ("quit", "help") for b in bindings(COCKPIT_BINDINGS))  # those are the app's


def test_the_help_lists_every_binding_from_the_bindings() -> None:
    sections = TunedeckApp.help_sections()
    titles = [title for title, _ in sections]
    assert titles == ["Trials", "Table", "Sweeps", "Plot", "Presets", "Panes", "Anywhere"]
    text = help_text(sections)
    for b in bindings(COCKPIT_BINDINGS):
        assert key_label(b.key) in text and b.tooltip in text, b.action
    table = dict(sections)["Table"]
    assert [b for b in table if not b.priority] == TrialTable.BINDINGS  # the table's keys from the widget itself
    table_rows = dict(rows(table))
    assert {"s / alt+s / f3", "S / alt+shift+s", "r / alt+r", "f / alt+f", "space", "enter"} <= set(table_rows)
    assert table_rows["up / down / pageup / pagedown / home / end"] == "move"  # neighbours that say the same
    anywhere = dict(rows(dict(sections)["Anywhere"]))
    assert {"? / f1", "q / ctrl+q", "ctrl+p", "tab / shift+tab"} <= set(anywhere)
    assert dict(rows(dict(sections)["Trials"]))["+ / ctrl+up / - / ctrl+down"].startswith("train more / fewer")


def test_key_labels_read_as_pressed() -> None:
    assert key_label("X,shift+x") == "X"
    assert key_label("plus") == "+"
    assert key_label("question_mark,f1") == "? / f1"
    assert key_label("ctrl+r") == "ctrl+r"


def test_the_palette_offers_each_cockpit_key_and_runs_it_on_the_cockpit(tmp_path: Path) -> None:
    entries = palette_entries()
    cockpit_actions = {b.action for b in bindings(COCKPIT_BINDINGS)}
    assert {action for _, _, action in entries} == cockpit_actions
    assert all(title.split(": ")[0] in [*KEY_GROUPS, "Table"] for title, _, _ in entries)
    assert len({title for title, _, _ in entries}) == len(entries)  # each found by its own name
    app = supervised_app(load_preset("toy2d-mlp"), Store(tmp_path / "t.db"))

    async def main() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause(0.3)
            commands = {c.title: c for c in app.get_system_commands(app.cockpit)}
            assert "Plot: Log y" in commands and "Help: every key tunedeck knows" in commands
            log_y = app.cockpit.plot.log_y
            await commands["Plot: Log y"].callback()
            assert app.cockpit.plot.log_y is not log_y
            app.cockpit.table.focus()  # a form field would take the ? as text
            await pilot.press("question_mark")
            await pilot.pause(0.2)
            assert isinstance(app.screen, HelpScreen)
            over_a_dialog = {c.title for c in app.get_system_commands(app.screen)}
            assert not over_a_dialog & {title for title, _, _ in entries}  # they would act behind the dialog
    asyncio.run(main())
