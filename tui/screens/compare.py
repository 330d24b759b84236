"""Two trials side by side: their summaries, the knobs that differ, and their loss curves overlaid.

Only knobs that play a part in at least one of the two configs are compared (CNN channels do
not matter between two MLPs); a knob that applies to one trial only shows "not used" for the
other. The curves come from the same code as the cockpit's plot (`tui.plotdata.PlotData`), so
the colours and labels ("#3 train", "#3 val") are the ones the user already knows.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.config.groups import Config
from engine.errors import safe_text
from engine.metric_names import BEST_VAL_LOSS, EPOCHS_RUN, MAX_VAL_ACC, VAL_ACC_AT_BEST
from engine.store import Store
from engine.store.schema import TrialRecord
from engine.sweeps.spec import label
from engine.tables.formatting import fmt_duration, fmt_value
from tui.live import LiveTrials
from tui.plotdata import PlotData
from tui.plotting.series import Series
from tui.theme import trial_style
from tui.widgets.loss_plot import LossPlot

NOT_USED = "not used"
NO_DIFFERENCE = "no knob differs"
COLUMN_MAX = 26
_MISSING = object()


@dataclass(frozen=True)
class KnobDiff:
    """One knob whose value differs, as shown for trial A and trial B."""

    key: str
    a: str
    b: str


def flat_config(stored: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """A stored config as dotted key -> value, and the keys that apply to it.

    A config that no longer validates (stored by another version) is flattened as it is, and
    every key in it counts as applying: better to show a difference too many than hide one.
    """
    try:
        config = Config.from_dict(stored)
        flat = config.flat()
        return flat, {key for key in flat if config.applies(key)}
    except Exception:
        flat = _flatten(stored)
        return flat, set(flat)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not prefix and key == "name":
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and not prefix:
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _normal(value: Any) -> Any:
    """Lists and tuples compare alike (JSON gives lists, a Config tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_normal(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _normal(v)) for k, v in value.items()))
    return value


def show_value(value: Any) -> str:
    """A knob's value as a cell: lists as JSON, numbers short, nothing as '-'."""
    if value is _MISSING or value is None:
        return "-"
    if isinstance(value, (list, tuple, bool)):
        return label(value)
    if isinstance(value, Mapping):
        return json.dumps(dict(value), sort_keys=True, default=str)
    return fmt_value(value)


def differing_knobs(stored_a: Mapping[str, Any], stored_b: Mapping[str, Any]) -> list[KnobDiff]:
    """The knobs whose values differ between two stored configs, in form order.

    Knobs that apply to neither config are left out; one that applies to one side only reads
    "not used" on the other. Two numbers that differ but print alike are shown in full.
    """
    flat_a, applies_a = flat_config(stored_a)
    flat_b, applies_b = flat_config(stored_b)
    keys = list(flat_a) + [key for key in flat_b if key not in flat_a]
    out = []
    for key in keys:
        if key not in applies_a and key not in applies_b:
            continue
        va, vb = flat_a.get(key, _MISSING), flat_b.get(key, _MISSING)
        if _normal(va) == _normal(vb):
            continue
        sa, sb = show_value(va), show_value(vb)
        if sa == sb:
            sa, sb = repr(va), repr(vb)
        out.append(KnobDiff(key, sa if key in applies_a else NOT_USED, sb if key in applies_b else NOT_USED))
    return out


def summary_rows(a: TrialRecord, b: TrialRecord) -> list[tuple[str, str, str]]:
    """(what, trial A, trial B) for the state, the summary's main results (engine.metric_names), epochs run and
    duration."""
    results = (BEST_VAL_LOSS, VAL_ACC_AT_BEST, MAX_VAL_ACC, EPOCHS_RUN)

    def cells(r: TrialRecord) -> list[str]:
        return [r.state.value, *(fmt_value(getattr(r, name)) for name in results), fmt_duration(r.duration_s)]
    names = ("state", *results, "duration")
    return list(zip(names, cells(a), cells(b)))


def legend_text(series: list[Series]) -> Text:
    """One line naming each curve in its colour: "━━ #3 train  ━━ #3 val  ━━ #5 train ..."."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for index, item in enumerate(series):
        color = item.color or ""
        text.append(("   " if index else "") + "━━ ", style=f"color({color})" if color.isdigit() else color)
        text.append(item.label)
    return text


def _table(rows: list[tuple[str, str, str]], widths: tuple[int, int, int], header: tuple[str, str, str] | None,
           styles: dict[int, tuple[str, str]] | None = None) -> Table:
    table = Table(box=None, show_header=header is not None, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0))
    for index, width in enumerate(widths):
        table.add_column(header[index] if header else "", min_width=width, max_width=COLUMN_MAX, no_wrap=True,
                         overflow="ellipsis", style="bold" if index == 0 else "")
    for index, row in enumerate(rows):
        a_style, b_style = (styles or {}).get(index, ("", ""))
        table.add_row(row[0], Text(row[1], style=a_style), Text(row[2], style=b_style))
    return table


class CompareScreen(ModalScreen[None]):
    """Trial A and trial B: summaries, differing knobs, and train/val loss of both in one plot."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close"), Binding("l", "toggle_log", "Log y")]

    DEFAULT_CSS = """
    CompareScreen {
        align: center middle;
    }
    #compare-title {
        width: 1fr;
        height: 1;
    }
    #compare-tables {
        height: auto;
        max-height: 60%;
        layout: vertical;
    }
    #compare-tables > Static {
        width: 1fr;
    }
    #compare-tables.side {
        layout: horizontal;
    }
    #compare-tables.side > Static {
        width: auto;
        margin-right: 2;
    }
    #compare-legend {
        width: 1fr;
        height: 1;
    }
    #compare-plot {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, store: Store, trial_a: int, trial_b: int) -> None:
        super().__init__()
        self.store = store
        self.trial_a = trial_a
        self.trial_b = trial_b
        self.error: str | None = None
        self.records: tuple[TrialRecord, TrialRecord] | None = None
        self.diffs: list[KnobDiff] = []
        self.summary: list[tuple[str, str, str]] = []
        self.side_by_side = False
        self.legend: list[str] = []  # the curves' names, as the legend line shows them
        try:
            a, b = store.trial(trial_a), store.trial(trial_b)
            self.records = (a, b)
            self.diffs = differing_knobs(a.config, b.config)
            self.summary = summary_rows(a, b)
        except Exception as error:  # an unknown id, a closed store: the screen says so instead
            self.error = f"cannot compare trials {trial_a} and {trial_b}: {error}"

    def compose(self) -> ComposeResult:
        with Vertical(id="compare", classes="dialog wide"):  # box and size: tui/styles.tcss
            yield Static(self._title(), id="compare-title")
            with VerticalScroll(id="compare-tables", can_focus=False):
                yield Static(self._summary_table(), id="compare-summary")
                yield Static(self._knobs_table(), id="compare-knobs")
            yield Static(id="compare-legend")
            yield LossPlot(id="compare-plot", empty_hint="neither trial has logged an epoch")

    def on_mount(self) -> None:
        plot = self.query_one(LossPlot)
        plot.plot_title = f"#{self.trial_a} vs #{self.trial_b}"
        if self.error is not None:
            return
        try:
            series = PlotData(self.store, LiveTrials(self.store)).series((self.trial_a, self.trial_b), "loss", False)
            series = [item for item in series if len(item.ys)]
        except Exception as error:
            plot.empty_hint = f"cannot read the curves: {error}"
            return
        # The legend is a line of its own: inside a short plot only the first two of four fit.
        self.legend = [item.label for item in series]
        self.query_one("#compare-legend", Static).update(legend_text(series))
        plot.set_series([replace(item, label="") for item in series])

    def on_resize(self) -> None:
        """Summary and knobs side by side when both fit across the dialog, else one above the other."""
        inner = min(int(self.size.width * 0.95), 160) - 4  # .dialog.wide's width, less border and padding
        side = 2 * self._table_width() + 2 <= inner
        if side != self.side_by_side:
            self.side_by_side = side
            self.query_one("#compare-tables").set_class(side, "side")
            self.query_one("#compare-knobs", Static).update(self._knobs_table())

    def _table_width(self) -> int:
        return sum(self._widths()) + 2 * 2

    def _title(self) -> Text:
        keys = "   (Escape closes, l log y)"
        if self.records is None:
            return Text(self.error or "", style="red", no_wrap=True, overflow="ellipsis", end="")
        a, b = self.records
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(f"trial #{a.id} vs trial #{b.id}", style="bold")
        text.append(f"   {safe_text(a.name, 60)}  |  {safe_text(b.name, 60)}")
        text.append(keys, style="dim")
        return text

    def _widths(self) -> tuple[int, int, int]:
        rows = self.summary + [(d.key, d.a, d.b) for d in self.diffs] + [("", *self._headers()[1:])]
        return tuple(min(COLUMN_MAX, max(len(row[i]) for row in rows)) for i in range(3))  # type: ignore[return-value]

    def _headers(self) -> tuple[str, str, str]:
        return ("", f"#{self.trial_a}", f"#{self.trial_b}")

    def _summary_table(self) -> Table | Text:
        if not self.summary:
            return Text("")
        styles = {0: tuple(trial_style(cell) for cell in self.summary[0][1:])}
        return _table(self.summary, self._widths(), self._headers(), styles)  # type: ignore[arg-type]

    def _knobs_table(self) -> Table | Text:
        if self.records is None:
            return Text("")
        if not self.diffs:
            return Text(NO_DIFFERENCE, style="dim")
        header = self._headers() if self.side_by_side else None
        table = _table([(d.key, d.a, d.b) for d in self.diffs], self._widths(), header)
        table.title = f"knobs that differ ({len(self.diffs)})"
        table.title_justify = "left"
        table.title_style = "dim"
        return table

    def action_toggle_log(self) -> None:
        plot = self.query_one(LossPlot)
        plot.log_y = not plot.log_y
