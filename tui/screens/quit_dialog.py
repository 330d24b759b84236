"""Quitting while trials train: keep them running in the background (the default), or stop them."""
from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

QuitChoice = Literal["keep", "stop"]


class QuitScreen(ModalScreen["QuitChoice | None"]):
    """Dismissed with "keep", "stop", or None (stay in the cockpit)."""

    BINDINGS = [
        Binding("k", "choose('keep')", "Keep running"),
        Binding("s", "choose('stop')", "Stop them"),
        Binding("escape", "choose(None)", "Stay"),
    ]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"{self.what}. Keep them running in the background? They go on after the terminal "
                        "closes; `tunedeck` or `tunedeck status` shows them again.", classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Keep running (k)", variant="success", id="keep")
                yield Button("Stop them (s)", variant="error", id="stop")
                yield Button("Stay (esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id if event.button.id in ("keep", "stop") else None)  # type: ignore[arg-type]

    def action_choose(self, choice: QuitChoice | None) -> None:
        self.dismiss(choice)
