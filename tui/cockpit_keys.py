"""The cockpit's keys as data: each binding with its footer word, its long description and its group.

Two layers, so that a key never edits a field by accident and every action is reachable from
anywhere: a single-character key (`c`, `+`, the table's `s`) acts only outside text fields (in a
field it is text), and each has a twin that works everywhere, a text field included: `alt+<key>`
(generated below, one rule for all), plus ctrl/function keys for the common ones (ctrl+r/x/o/s/g/t/f,
F1 help, F2 panes, F3 sort, ctrl+up / ctrl+down more or fewer at once).

The footer, the help screen and the command palette are all generated from these bindings (the
help and palette used to be written out a second and third time, and drifted). The bindings are
the CockpitScreen's own (`CockpitScreen.BINDINGS = COCKPIT_BINDINGS`), so a dialog on top of the
cockpit shadows them through Textual's screen stack. Kept in a module of its own so that the
screen stays a composition of widgets and actions.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.binding import Binding, BindingType

from tui.key_twins import alt_key
from tui.screens.help import NOTES, Section, key_label
from tui.widgets.trial_table import TrialTable

_FIND_KNOB = "jump to a knob by name (lr, dropout, optim.lr): its field gets the focus"
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
    Binding("i", "enqueue_sweep", "Into sweep", show=False,
            tooltip="send the form's config into the running sweep: its searched knobs run next"),
    Binding("a", "analysis", "Analysis", show=False,
            tooltip="the sweep's analysis: importance, each knob against the objective"),
    Binding("v", "compare", "Compare", show=False,
            tooltip="compare two selected trials: the knobs that differ, curves overlaid"),
    Binding("e", "export", "Export", tooltip="export the table as filtered and sorted (CSV, Parquet, JSON, Markdown)"),
    Binding("c", "clone", "Clone", tooltip="clone the highlighted trial's config into the form"),
    Binding("L,shift+l", "lr_find", "LR probe", show=False,
            tooltip="learning-rate probe on the form's config: loss against the rate, Enter puts the suggestion into optim.lr"),
    Binding("u", "resume_trial", "Resume trial", show=False,
            tooltip="resume the highlighted interrupted or cancelled trial from its last checkpoint"),
    Binding("l", "toggle_log", "Log y", show=False, tooltip="plot: log scale for y"),
    Binding("m", "cycle_metric", "Metric", show=False, tooltip="plot: metric (loss, accuracy, learning rate)"),
    Binding("t", "toggle_steps", "Steps", show=False, tooltip="plot: per-step training loss, smoothed"),
    Binding("ctrl+t", "switch_focus", "Table/Form", priority=True, tooltip="jump between the trial table and the form"),
    Binding("ctrl+f", "find_knob", "Find knob", priority=True, tooltip=_FIND_KNOB),
    Binding("slash", "find_knob", "Find knob", show=False, tooltip=_FIND_KNOB),
    Binding("plus", "parallel(1)", "More at once", show=False, tooltip=_MORE_OR_FEWER),
    Binding("ctrl+up", "parallel(1)", "More at once", show=False, priority=True, tooltip=_MORE_OR_FEWER),
    Binding("minus", "parallel(-1)", "Fewer at once", show=False, tooltip=_MORE_OR_FEWER),
    Binding("ctrl+down", "parallel(-1)", "Fewer at once", show=False, priority=True, tooltip=_MORE_OR_FEWER),
    Binding("f2", "toggle_pane", "Form/Monitor", show=False, tooltip="form or monitor, on a small terminal"),
    Binding("d", "devices", "Devices", show=False,
            tooltip="the device panel: each GPU's memory, load, temperature, power and trials; CPUs, memory, Ray nodes"),
]


def _bindings(bindings: Sequence[BindingType]) -> list[Binding]:
    return [b for b in bindings if isinstance(b, Binding)]


def with_alt_twins(bindings: Sequence[BindingType], action: Callable[[Binding], str] = lambda b: b.action
                   ) -> list[Binding]:
    """Each binding followed by its alt twin (priority: it acts even with a text field focused)."""
    out: list[Binding] = []
    for binding in _bindings(bindings):
        out.append(binding)
        names = [k.strip() for k in binding.key.split(",")]
        twins = [t for t in (alt_key(k) for k in names if not k.startswith("shift+")) if t]
        if twins:
            out.append(Binding(",".join(twins), action(binding), binding.description, show=False, priority=True,
                               tooltip=binding.tooltip or NOTES.get(binding.action, binding.description)))
    return out


# The table's letter keys (sort, reverse, filter) from anywhere: the screen forwards them to the table.
TABLE_ANYWHERE: list[Binding] = [
    b for b in with_alt_twins(TrialTable.BINDINGS, lambda b: f"table('{b.action}')") if b.priority
] + [Binding("f3", "table('sort_next')", "Sort", show=False, priority=True, tooltip=NOTES["sort_next"])]

COCKPIT_BINDINGS = with_alt_twins(COCKPIT_BINDINGS) + TABLE_ANYWHERE

# Where each cockpit key is listed in the help and the palette; the table's keys follow Trials.
KEY_GROUPS: dict[str, tuple[str, ...]] = {
    "Trials": ("start_trial", "stop_trial", "resume_trial", "parallel(1)", "parallel(-1)", "clone", "lr_find", "export"),
    "Sweeps": ("sweep", "pause_sweep", "stop_sweep", "resume_sweep", "enqueue_sweep", "analysis", "compare"),
    "Plot": ("toggle_log", "cycle_metric", "toggle_steps"),
    "Presets": ("open_preset", "save_preset"),
    "Panes": ("switch_focus", "toggle_pane", "find_knob", "devices"),
}

COCKPIT_ACTION_NAMES = frozenset(b.action.split("(")[0] for b in COCKPIT_BINDINGS if isinstance(b, Binding))


def key_sections() -> list[Section]:
    """The cockpit's keys by group for the help screen, the trial table's (from its BINDINGS, each with
    the screen's everywhere-twins) after Trials."""
    by_action: dict[str, list[Binding]] = {}
    for binding in _bindings(COCKPIT_BINDINGS):
        by_action.setdefault(binding.action, []).append(binding)
    sections: list[Section] = [(title, [b for a in actions for b in by_action[a]])
                               for title, actions in KEY_GROUPS.items()]
    table: list[Binding] = []
    for binding in _bindings(TrialTable.BINDINGS):
        table += [binding, *by_action.get(f"table('{binding.action}')", [])]
    sections.insert(1, ("Table", table))
    return sections


def palette_entries() -> list[tuple[str, str, str]]:
    """(title, help, action) for each cockpit key, in the help's order: `Plot: Log y`, its long text and key."""
    out = []
    for group, bindings in key_sections():
        seen: dict[str, int] = {}
        for b in _bindings(bindings):
            if group == "Table" and not b.action.startswith("table("):
                continue  # moving and selecting act on the highlighted row, which the palette hides
            if b.action in seen:  # a twin: its key joins the entry's
                title, text, action = out[seen[b.action]]
                out[seen[b.action]] = (title, f"{text[:-1]} / {key_label(b.key)})", action)
                continue
            seen[b.action] = len(out)
            out.append((f"{group}: {b.description}", f"{b.tooltip or b.description} ({key_label(b.key)})", b.action))
    return out
