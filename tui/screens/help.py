"""Every key, in one place: the app's bindings, the table's, and the form's."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Trials", [
        ("ctrl+r", "start a trial with the form's values (queued if one is running)"),
        ("ctrl+x", "stop the highlighted running trial (recorded as cancelled)"),
        ("+ / -", "train more / fewer trials at once (one each to start; --parallel N)"),
        ("c", "clone the highlighted trial's config into the form"),
        ("enter", "open the highlighted trial: config, summary, why it stopped, epochs"),
        ("e", "export the table as filtered and sorted (CSV, Parquet, JSON, Markdown)"),
    ]),
    ("Sweeps", [
        ("ctrl+g", "sweep around the form's config: grid, random or TPE, N trials at once"),
        ("p", "pause the sweep (running trials finish) / resume it"),
        ("X", "stop the sweep: its running trials are cancelled"),
        ("R", "resume the highlighted trial's sweep, or the newest stopped or interrupted one"),
        ("a", "the sweep's analysis: importance, each knob against the objective"),
        ("v", "compare two selected trials: the knobs that differ, curves overlaid"),
    ]),
    ("Table", [
        ("up/down, pgup/pgdn, home/end", "move"),
        ("s / S", "sort by the next / previous column"),
        ("r", "reverse the sort"),
        ("f", "filter by state (cycles)"),
        ("space", "select a trial to overlay its curves"),
    ]),
    ("Plot", [
        ("l", "log scale for y"),
        ("m", "metric: loss, accuracy, learning rate"),
        ("t", "per-step training loss, smoothed"),
    ]),
    ("Presets", [
        ("ctrl+o", "load a preset into the form (a path or a shipped name)"),
        ("ctrl+s", "save the form as a preset (with the last sweep's \\[search] table, if any)"),
    ]),
    ("Anywhere", [
        ("tab / shift+tab", "move between fields and panes"),
        ("ctrl+t", "jump between the trial table and the form"),
        ("f2", "form or monitor, on a small terminal"),
        ("ctrl+p", "command palette"),
        ("? / f1", "this help"),
        ("q / ctrl+q", "quit (asks first while trials run)"),
    ]),
]


def help_text() -> str:
    lines: list[str] = []
    for title, keys in KEYS:
        lines.append(f"[b]{title}[/b]")
        lines += [f"  [b $accent]{key:<28}[/] {what}" for key, what in keys]
        lines.append("")
    return "\n".join(lines).rstrip()


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static("[b]tunedeck keys[/b]  (Escape closes)", classes="dialog-title")
            yield Static(help_text(), id="help-keys")
