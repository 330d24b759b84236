"""Keys that do what they say: a cockpit key never edits a field, and every action works from a field.

Driven through Pilot on a real store; nothing trains (no key here starts a trial).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Select, Switch
from textual.widgets._footer import FooterKey, FooterLabel

from engine.config.presets import load_preset
from engine.store import Store
from engine.supervisor.client import SupervisorClient
from tests.tui.scripted import scripted_store
from tests.tui.test_app import until
from tui.app import TunedeckApp
from tui.screens.find_knob import FindKnobScreen, matches
from tui.widgets.cockpit_footer import IN_FIELD_NOTE, CockpitFooter
from tui.widgets.trial_table import TrialTable

# One field of every kind the form has; the value each holds in the toy2d-mlp preset is read live.
NUMBER_FIELDS = ("optim.lr", "optim.batch_size", "model.hidden")  # float, int, int list
OTHER_FIELDS = ("optim.optimizer", "early_stop.restore_best")  # a closed choice (Select), a bool (Switch)
TEXT_FIELDS = ("name",)


def cockpit(store: Store) -> TunedeckApp:
    # No supervisor: nothing is queued in these tests, and none must start.
    return TunedeckApp(load_preset("toy2d-mlp"), store, SupervisorClient(store, launch=lambda: None))


def drive(app: TunedeckApp, script: Callable[[Pilot], Awaitable[None]], size: tuple[int, int] = (120, 36)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.cockpit.ready, 60)
            await script(pilot)
    asyncio.run(main())


def value(app: TunedeckApp, key: str) -> object:
    editor = app.cockpit.form.editor(key)
    if isinstance(editor, (Input, Switch)):
        return editor.value
    assert isinstance(editor, Select)
    return editor.value


def test_the_focus_starts_on_the_table_and_q_quits_from_there(tmp_path: Path) -> None:
    app = cockpit(Store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        assert isinstance(app.focused, TrialTable)
        assert app.cockpit.form.editor("name").value == "toy2d-mlp"  # type: ignore[attr-defined]
        await pilot.press("q")

    drive(app, script)
    assert app.return_code == 0  # nothing ran: q quit at once


def test_cockpit_keys_pressed_in_any_kind_of_field_leave_its_value_unchanged(tmp_path: Path) -> None:
    store = scripted_store(tmp_path / "t.db")
    app = cockpit(store)

    async def script(pilot: Pilot) -> None:
        cockpit_screen = app.cockpit
        for key in (*NUMBER_FIELDS, *OTHER_FIELDS):
            cockpit_screen.form.reveal(key)
            await pilot.pause(0.05)
            before = value(app, key)
            keys = ("q", "plus", "s") if key in NUMBER_FIELDS else ("plus", "s")  # q on a switch quits, as it should
            await pilot.press(*keys)
            await pilot.pause(0.05)
            assert value(app, key) == before, (key, before, value(app, key))
            assert app.screen is cockpit_screen, key  # and no dialog opened
        # A text field takes the letters as text, where the cursor is: appended, never replacing the value.
        cockpit_screen.form.reveal("name")
        await pilot.pause(0.05)
        await pilot.press("q", "s")
        assert value(app, "name") == "toy2d-mlpqs"

    drive(app, script)


def test_alt_keys_act_from_a_text_field_and_the_footer_says_letters_type_there(tmp_path: Path) -> None:
    store = scripted_store(tmp_path / "t.db")
    app = cockpit(store)

    def footer_note() -> bool:
        footer = app.cockpit.query_one(CockpitFooter)
        return any(isinstance(w, FooterLabel) and IN_FIELD_NOTE in str(w.render()) for w in footer.children)

    def footer_keys() -> set[str]:
        return {w.key for w in app.cockpit.query_one(CockpitFooter).children if isinstance(w, FooterKey)}

    async def script(pilot: Pilot) -> None:
        table = app.cockpit.table
        await until(pilot, lambda: "c" in footer_keys() and not footer_note(), 10)  # the table: letters act
        app.cockpit.form.reveal("optim.lr")
        await until(pilot, footer_note, 10)
        assert "alt+c" in footer_keys() and "c" not in footer_keys()
        before = table.sort_column
        await pilot.press("alt+s")  # sorts the table although a field has the focus
        await until(pilot, lambda: table.sort_column != before, 10)
        await pilot.press("f3")
        await pilot.press("ctrl+down")  # and the F/ctrl keys act too; the field is untouched
        assert value(app, "optim.lr") == "0.01"

    drive(app, script)


def test_find_a_knob_by_part_of_its_name_and_land_in_its_field(tmp_path: Path) -> None:
    app = cockpit(Store(tmp_path / "t.db"))

    async def script(pilot: Pilot) -> None:
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.screen, FindKnobScreen), 10)
        await pilot.press(*"drop", "enter")
        await until(pilot, lambda: app.focused is app.cockpit.form.editor("reg.dropout"), 10)
        # ctrl+f works from inside a field as well; a knob that does not apply is shown while focused
        await pilot.press("ctrl+f")
        await until(pilot, lambda: isinstance(app.screen, FindKnobScreen), 10)
        await pilot.press(*"nesterov", "enter")
        await until(pilot, lambda: app.focused is app.cockpit.form.editor("optim.nesterov"), 10)
        assert app.cockpit.form.field("optim.nesterov").display

    drive(app, script)


def test_matches_rank_exact_names_then_prefixes_then_substrings() -> None:
    keys = ["name", "optim.lr", "optim.lr_min", "sched.warmup_lr", "reg.dropout", "task.n_samples"]
    assert matches("lr", keys)[:3] == ["optim.lr", "optim.lr_min", "sched.warmup_lr"]
    assert matches("optim.lr", keys)[0] == "optim.lr"
    assert matches("DROP", keys) == ["reg.dropout"]
    assert matches("zzz", keys) == []
    assert matches("", keys) == keys
