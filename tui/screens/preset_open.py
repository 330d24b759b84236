"""Load a preset into the form: a path (completed from the working directory) or a shipped name."""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList

from engine.config.presets import shipped_names


def candidates(cwd: Path) -> list[str]:
    """TOML files in the working directory (and one level down), then the shipped presets."""
    local = sorted(str(p.relative_to(cwd)) for p in list(cwd.glob("*.toml")) + list(cwd.glob("*/*.toml")))
    return local + shipped_names()


class PresetOpenScreen(ModalScreen[str | None]):
    """Dismisses with the preset reference typed or picked, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        options = candidates(Path.cwd())
        with Vertical(classes="dialog"):
            yield Label("Load a preset into the form (Enter loads, Escape cancels)", classes="dialog-title")
            yield Input(placeholder="path/to/preset.toml or a shipped name", id="preset-path",
                        suggester=SuggestFromList(options, case_sensitive=False))
            yield OptionList(*options, id="preset-list")

    def on_mount(self) -> None:
        self.query_one("#preset-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.dismiss(value)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.prompt))
