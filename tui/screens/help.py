"""Every key, in one place, generated from the bindings themselves: the cockpit's, the table's, the app's.

Written out by hand, the list drifted from what the keys did; read from the `Binding`s, a key that
is rebound or added shows here (and in the footer and the command palette) without a second edit.
A binding's text is its `tooltip` (the long description) if it has one, else a note kept below for
widgets whose bindings carry only a footer word, else its footer description.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# Keys shown as the character a user presses rather than Textual's name for it.
KEY_NAMES = {"plus": "+", "minus": "-", "question_mark": "?", "left_square_bracket": "[",
             "right_square_bracket": "]", "slash": "/"}

# The longer text for bindings that live on widgets and carry only a footer word (the trial table's).
NOTES = {
    "cursor_up": "move", "cursor_down": "move", "cursor_page_up": "move", "cursor_page_down": "move",
    "cursor_first": "move", "cursor_last": "move",
    "sort_next": "sort by the next column (failures always sort last)",
    "sort_previous": "sort by the previous column",
    "reverse_sort": "reverse the sort",
    "cycle_filter": "filter by state (cycles)",
    "toggle_selection": "select a trial to overlay its curves",
    "open_trial": "open the highlighted trial: config, summary, why it stopped, epochs",
    "app.focus_next": "move between fields and panes", "app.focus_previous": "move between fields and panes",
    "command_palette": "command palette: every command, searchable",
}

Section = tuple[str, Sequence[BindingType]]


def key_label(keys: str) -> str:
    """`X,shift+x` -> `X`; `plus` -> `+`; `question_mark,f1` -> `? / f1`: the keys as a user reads them."""
    names = [k.strip() for k in keys.split(",") if k.strip()]
    shown = [n for n in names if not (n.startswith("shift+") and n[len("shift+"):].upper() in names)]
    return " / ".join(KEY_NAMES.get(n, n) for n in shown)


def binding_text(binding: Binding, notes: Mapping[str, str] = NOTES) -> str:
    return binding.tooltip or notes.get(binding.action) or binding.description or binding.action


def rows(bindings: Iterable[BindingType], notes: Mapping[str, str] = NOTES) -> list[tuple[str, str]]:
    """(keys, text) per binding, in order; neighbours that say the same thing share a row (`+ / -`)."""
    out: list[tuple[str, str]] = []
    for binding in bindings:
        if not isinstance(binding, Binding) or binding.system:
            continue
        text = binding_text(binding, notes)
        label = key_label(binding.key)
        if out and out[-1][1] == text:
            out[-1] = (f"{out[-1][0]} / {label}", text)
        else:
            out.append((label, text))
    return out


def help_text(sections: Sequence[Section], notes: Mapping[str, str] = NOTES) -> str:
    lines: list[str] = []
    for title, bindings in sections:
        lines.append(f"[b]{title}[/b]")
        lines += [f"  [b $accent]{_escape(key):<28}[/] {_escape(what)}" for key, what in rows(bindings, notes)]
        lines.append("")
    return "\n".join(lines).rstrip()


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, sections: Sequence[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static("[b]tunedeck keys[/b]  (Escape closes)", classes="dialog-title")
            yield Static(help_text(self.sections), id="help-keys")


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
