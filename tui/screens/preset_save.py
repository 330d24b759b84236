"""Save the form as a preset file; an existing file is replaced only when asked."""
from __future__ import annotations

from pathlib import Path

from engine.config import Config
from engine.presets import save_preset
from tui.screens.write_dialog import WriteDialog


class PresetSaveScreen(WriteDialog):
    """Dismisses with the path written, or None."""

    PREFIX = "save"
    ACTION = "Save"

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def title_text(self) -> str:
        return "Save the form as a preset"

    def default_path(self) -> str:
        return f"{self.config.name or self.config.task.name}.toml".replace("/", "-").replace(":", "-")

    def write(self, path: str, force: bool) -> Path:
        return save_preset(self.config, path, force=force)
