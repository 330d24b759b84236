"""Save the form as a preset file; an existing file is replaced only when asked."""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from engine.config import Config
from engine.errors import TunedeckError
from engine.presets import save_preset


class PresetSaveScreen(ModalScreen[Path | None]):
    """Dismisses with the path written, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        default = f"{self.config.name or self.config.task.name}.toml".replace("/", "-").replace(":", "-")
        with Vertical(classes="dialog"):
            yield Label("Save the form as a preset", classes="dialog-title")
            yield Input(value=default, placeholder="file path", id="save-path")
            yield Checkbox("overwrite if the file exists", id="save-force")
            yield Label("", id="save-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save-go")
                yield Button("Cancel", id="save-cancel")

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save-go":
            self._save()
        else:
            self.dismiss(None)

    def _save(self) -> None:
        path = self.query_one("#save-path", Input).value.strip()
        error = self.query_one("#save-error", Label)
        if not path:
            error.update("give a file path")
            return
        try:
            written = save_preset(self.config, path, force=self.query_one("#save-force", Checkbox).value)
        except TunedeckError as exc:
            error.update(str(exc))
            return
        self.dismiss(written)
