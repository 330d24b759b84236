"""The cockpit's keys as data: each binding with its footer word, its long description and its group.

The footer, the help screen and the command palette are all generated from these bindings (the
help and palette used to be written out a second and third time, and drifted). The bindings are
the CockpitScreen's own (`CockpitScreen.BINDINGS = COCKPIT_BINDINGS`), so a dialog on top of the
cockpit shadows them through Textual's screen stack. Kept in a module of its own so that the
screen stays a composition of widgets and actions.
"""
from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding, BindingType

from tui.screens.help import Section, key_label
from tui.widgets.trial_table import TrialTable

_MORE_OR_FEWER = "train more / fewer trials at once (one to start; --parallel N)"

# The footer shows them in this order, after the focused widget's own (the table's s, r, f, ...).
COCKPIT_BINDINGS: list[BindingType] = [
    Binding("ctrl+r", "start_trial", "Start", priority=True,
            tooltip="start a trial with the form's values (queued while others run)"),
    Binding("ctrl+x", "stop_trial", "Stop", priority=True,
            tooltip="stop the highlighted running trial (recorded as cancelled)"),
    Binding("ctrl+o", "open_preset", "Open", priority=True,
            tooltip="load a preset into the form (a path or a shipped name)"),
    Binding("ctrl+s", "save_preset", "Save", priority=True,
            tooltip="save the form as a preset (with the last sweep's search table, if any)"),
    Binding("ctrl+g", "sweep", "Sweep", priority=True,
            tooltip="sweep around the form's config: grid, random or TPE, N trials at once"),
    Binding("p", "pause_sweep", "Pause sweep", show=False,
            tooltip="pause the sweep (running trials finish) / resume it"),
    Binding("X,shift+x", "stop_sweep", "Stop sweep", show=False,
            tooltip="stop the sweep: its running trials are cancelled"),
    Binding("R,shift+r", "resume_sweep", "Resume sweep", show=False,
            tooltip="resume the highlighted trial's sweep, or the newest stopped or interrupted one"),
    Binding("a", "analysis", "Analysis", show=False,
            tooltip="the sweep's analysis: importance, each knob against the objective"),
    Binding("v", "compare", "Compare", show=False,
            tooltip="compare two selected trials: the knobs that differ, curves overlaid"),
    Binding("e", "export", "Export", tooltip="export the table as filtered and sorted (CSV, Parquet, JSON, Markdown)"),
    Binding("c", "clone", "Clone", tooltip="clone the highlighted trial's config into the form"),
    Binding("u", "resume_trial", "Resume trial", show=False,
            tooltip="resume the highlighted interrupted or cancelled trial from its last checkpoint"),
    Binding("l", "toggle_log", "Log y", show=False, tooltip="plot: log scale for y"),
    Binding("m", "cycle_metric", "Metric", show=False, tooltip="plot: metric (loss, accuracy, learning rate)"),
    Binding("t", "toggle_steps", "Steps", show=False, tooltip="plot: per-step training loss, smoothed"),
    Binding("ctrl+t", "switch_focus", "Table/Form", priority=True, tooltip="jump between the trial table and the form"),
    Binding("plus", "parallel(1)", "More at once", show=False, tooltip=_MORE_OR_FEWER),
    Binding("minus", "parallel(-1)", "Fewer at once", show=False, tooltip=_MORE_OR_FEWER),
    Binding("f2", "toggle_pane", "Form/Monitor", show=False, tooltip="form or monitor, on a small terminal"),
]

# Where each cockpit key is listed in the help and the palette; the table's keys follow Trials.
KEY_GROUPS: dict[str, tuple[str, ...]] = {
    "Trials": ("start_trial", "stop_trial", "resume_trial", "parallel(1)", "parallel(-1)", "clone", "export"),
    "Sweeps": ("sweep", "pause_sweep", "stop_sweep", "resume_sweep", "analysis", "compare"),
    "Plot": ("toggle_log", "cycle_metric", "toggle_steps"),
    "Presets": ("open_preset", "save_preset"),
    "Panes": ("switch_focus", "toggle_pane"),
}

COCKPIT_ACTION_NAMES = frozenset(b.action.split("(")[0] for b in COCKPIT_BINDINGS if isinstance(b, Binding))


def _bindings(bindings: Sequence[BindingType]) -> list[Binding]:
    return [b for b in bindings if isinstance(b, Binding)]


def key_sections() -> list[Section]:
    """The cockpit's keys by group for the help screen, the trial table's (from its BINDINGS) after Trials."""
    by_action = {b.action: b for b in _bindings(COCKPIT_BINDINGS)}
    sections: list[Section] = [(title, [by_action[a] for a in actions]) for title, actions in KEY_GROUPS.items()]
    sections.insert(1, ("Table", TrialTable.BINDINGS))
    return sections


def palette_entries() -> list[tuple[str, str, str]]:
    """(title, help, action) for each cockpit key, in the help's order: `Plot: Log y`, its long text and key."""
    out = []
    for group, bindings in key_sections():
        if group == "Table":
            continue  # the table's keys act on the highlighted row, which the palette hides
        for b in _bindings(bindings):
            out.append((f"{group}: {b.description}", f"{b.tooltip or b.description} ({key_label(b.key)})", b.action))
    return out
