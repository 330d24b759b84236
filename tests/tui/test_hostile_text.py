"""A trial's name, reason and note are the user's (or a plugin's) text: the cockpit draws them escaped."""
from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Static

from engine.config.presets import load_preset
from engine.errors import safe_text
from engine.events import TrialState
from engine.store import Store
from tests.tui.scripted import scripted_trial
from tests.tui.test_app import until
from tests.tui.test_cockpit_keys_in_fields import cockpit, drive
from tui.screens.detail import DetailScreen
from tui.text import markup

HOSTILE = "\x1b[2J\x1b]0;owned\x07[b red]loud"


def test_a_hostile_name_and_reason_are_drawn_escaped_in_the_detail_view(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    trial = scripted_trial(store, load_preset("toy2d-mlp").with_updates({"name": "x"}), [0.5, 0.4],
                           TrialState.COMPLETED, HOSTILE)
    with store._write() as conn:  # a name no preset check let through: written straight into the row
        conn.execute("UPDATE trials SET name = ?, note = ? WHERE id = ?", (HOSTILE, HOSTILE, trial))
    app = cockpit(store)

    async def script(pilot: Pilot) -> None:
        app.push_screen(DetailScreen(store, trial))
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), 10)
        await pilot.pause(0.2)
        shown = "\n".join(str(w.render()) for w in app.screen.query(Static))
        assert "\x1b" not in shown and "\x07" not in shown
        assert "\\u001b[2J" in shown and "[b red]loud" in shown  # escaped, and the markup shown as text

    drive(app, script)


def test_safe_text_and_markup_escape_control_characters_and_markup() -> None:
    assert safe_text("a\x1bb\nc") == "a\\u001bb\\nc"
    assert markup("[b]x\x07") == "\\[b]x\\u0007"
    assert safe_text("x" * 100, 10).startswith("x" * 10) and "100 characters" in safe_text("x" * 100, 10)
