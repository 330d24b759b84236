"""The shape every "write a file" dialog shares: a path, overwrite or not, the error, Write/Cancel.

A subclass gives its title, default path, any extra fields, and `write`, which raises the engine's
TunedeckError for the dialog to show; the dialog dismisses with the path written, or None.

It is laid out to fit an 80x24 terminal with its buttons in view: fields beside the path share its
row, the overwrite box is one line, and the error takes room only when there is one.
"""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label

from engine.errors import TunedeckError


class WriteDialog(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    PREFIX = "write"  # widget ids are PREFIX-path, PREFIX-force, PREFIX-error, PREFIX-go, PREFIX-cancel
    ACTION = "Write"
    DEFAULT_CSS = """
    WriteDialog .path-row { height: auto; }
    WriteDialog .path-row Input { width: 1fr; }
    WriteDialog .path-row Select { width: 20; margin-right: 1; }
    WriteDialog .error { max-height: 4; }
    """

    def title_text(self) -> str:
        raise NotImplementedError

    def default_path(self) -> str:
        raise NotImplementedError

    def fields_above(self) -> list[Widget]:
        return []

    def fields_beside_path(self) -> list[Widget]:
        """Narrow fields (a format picker) shown left of the path, on its row."""
        return []

    def fields_below(self) -> list[Widget]:
        return []

    def write(self, path: str, force: bool) -> Path:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        p = self.PREFIX
        with Vertical(classes="dialog"):
            yield Label(self.title_text(), classes="dialog-title")
            yield from self.fields_above()
            with Horizontal(classes="path-row"):
                yield from self.fields_beside_path()
                yield Input(value=self.default_path(), placeholder="file path", id=f"{p}-path")
            yield from self.fields_below()
            yield Checkbox("overwrite if the file exists", id=f"{p}-force", compact=True)
            error = Label("", id=f"{p}-error", classes="error")
            error.display = False
            yield error
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.ACTION, variant="primary", id=f"{p}-go")
                yield Button("Cancel", id=f"{p}-cancel")

    def on_mount(self) -> None:
        self.query_one(f"#{self.PREFIX}-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._write()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == f"{self.PREFIX}-go":
            self._write()
        else:
            self.dismiss(None)

    def _write(self) -> None:
        path = self.query_one(f"#{self.PREFIX}-path", Input).value.strip()
        if not path:
            self._show_error("give a file path")
            return
        try:
            written = self.write(path, self.query_one(f"#{self.PREFIX}-force", Checkbox).value)
        except TunedeckError as exc:
            self._show_error(str(exc))
            return
        self.dismiss(written)

    def _show_error(self, text: str) -> None:
        error = self.query_one(f"#{self.PREFIX}-error", Label)
        error.update(text)
        error.display = bool(text)
