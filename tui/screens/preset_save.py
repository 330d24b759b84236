"""Save the form as a preset file; an existing file is replaced only when asked."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widget import Widget
from textual.widgets import Checkbox

from engine.config.groups import Config
from engine.config.presets import save_preset
from tui.screens.write_dialog import WriteDialog


class PresetSaveScreen(WriteDialog):
    """Dismisses with the path written, or None."""

    PREFIX = "save"
    ACTION = "Save"

    def __init__(self, config: Config, search: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.config = config
        self.search = search  # the Sweep dialog's last [search] table, offered along with the form

    def title_text(self) -> str:
        return "Save the form as a preset"

    def fields_below(self) -> list[Widget]:
        if not self.search:
            return []
        return [Checkbox("with the sweep's \\[search] table", value=True, id="save-search")]

    def default_path(self) -> str:
        return f"{self.config.name or self.config.task.name}.toml".replace("/", "-").replace(":", "-")

    def write(self, path: str, force: bool) -> Path:
        with_search = bool(self.search) and self.query_one("#save-search", Checkbox).value
        return save_preset(self.config, path, force=force, search=self.search if with_search else None)
