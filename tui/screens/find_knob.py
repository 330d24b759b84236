"""Jump to a knob by name: type part of it (`lr`, `drop`, `optim.lr`), Enter focuses its field.

The list under the input narrows as one types: knobs whose name or key contains the text, exact
names first, then names that start with it. Enter takes the highlighted one (the first by default);
the arrow keys move in the list; Escape goes back where the focus was.
"""
from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


def matches(text: str, keys: Sequence[str]) -> list[str]:
    """The keys `text` may mean, best first: the exact name or key, then names starting with it, then
    any key containing it (case-insensitive, `-` and `_` alike)."""
    wanted = text.strip().lower().replace("-", "_")
    if not wanted:
        return list(keys)

    def rank(key: str) -> tuple[int, int] | None:
        name = key.rsplit(".", 1)[-1].lower()
        low = key.lower()
        if wanted in (name, low):
            return (0, len(key))
        if name.startswith(wanted) or low.startswith(wanted):
            return (1, len(key))
        if wanted in low:
            return (2, len(key))
        return None

    ranked = [(r, i, key) for i, key in enumerate(keys) if (r := rank(key)) is not None]
    return [key for _r, _i, key in sorted(ranked)]


class FindKnobScreen(ModalScreen["str | None"]):
    """Dismisses with the key of the knob picked (`optim.lr`), or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("down", "move(1)", "Next", show=False, priority=True),
                Binding("up", "move(-1)", "Previous", show=False, priority=True)]

    def __init__(self, keys: Sequence[str], hidden: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.keys = list(keys)
        self.hidden = hidden

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Jump to a knob (Enter goes there, Escape cancels)", classes="dialog-title")
            yield Input(placeholder="part of a knob's name: lr, dropout, optim.lr", id="knob-query")
            yield OptionList(id="knob-matches")

    def on_mount(self) -> None:
        self._show("")
        self.query_one("#knob-query", Input).focus()

    def _option(self, key: str) -> Option:
        note = "  (hidden: does not apply now)" if key in self.hidden else ""
        return Option(f"{key}{note}", id=key)

    def _show(self, text: str) -> None:
        found = self.query_one("#knob-matches", OptionList)
        found.clear_options()
        found.add_options([self._option(key) for key in matches(text, self.keys)])
        found.highlighted = 0 if found.option_count else None

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(event.value)

    def action_move(self, step: int) -> None:
        found = self.query_one("#knob-matches", OptionList)
        if found.option_count:
            found.highlighted = ((found.highlighted or 0) + step) % found.option_count

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        found = self.query_one("#knob-matches", OptionList)
        if found.highlighted is None:
            self.notify(f"no knob matches {event.value.strip()!r}", severity="warning", timeout=3)
            return
        self.dismiss(found.get_option_at_index(found.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
