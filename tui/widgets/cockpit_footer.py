"""The cockpit's footer: Textual's, saying in plain text which keys act while a text field has the focus.

In a text field a letter is text (Textual then leaves the letter keys out of the footer), so the
footer shows their everywhere-twins instead (`alt+c Clone`) and ends with a note saying so.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey, FooterLabel

from tui.key_twins import alt_key

IN_FIELD_NOTE = "letters type · alt+letter acts"


class CockpitFooter(Footer):
    def compose(self) -> ComposeResult:
        typing = self.is_attached and isinstance(self.screen.focused, Input)
        actions: set[str] = set()
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                actions.add(widget.action)
            yield widget
        if not typing:
            return
        for binding in self.screen.BINDINGS:
            if not isinstance(binding, Binding) or not binding.show or binding.action in actions:
                continue
            twin = alt_key(binding.key.split(",")[0])
            if twin is not None:
                display = self.app.get_key_display(Binding(twin, binding.action))
                yield FooterKey(twin, display, binding.description, binding.action, tooltip=binding.tooltip)
        yield FooterLabel(IN_FIELD_NOTE, classes="in-field-note")
