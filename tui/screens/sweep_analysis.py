"""One sweep at a glance: its progress and best trial, which knobs mattered, and each knob's scatter.

Everything is read back from the store, so the screen shows a running sweep and last week's
alike. `refresh_results()` is cheap enough to call every second from the UI thread: it reads the
sweep's row and trial counts (one query) for the progress line, and only when a trial has ended
since the last read does it re-read the results and recompute importance, in a thread, one
read at a time (Optuna's importance takes a quarter of a second for a thousand trials).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from engine.states import SweepState, TrialState
from engine.store import Store
from engine.store.sweeps import SweepRecord
from engine.sweeps.importance import importance
from engine.sweeps.results import SweepResults, load_results
from engine.sweeps.spec import label
from engine.tables.formatting import fmt_value
from tui.plotting.scatter import PointsCache, points_cache
from tui.text import markup as escaped
from tui.theme import sweep_style
from tui.widgets.importance_bars import ImportanceBars
from tui.widgets.param_scatter import ParamScatter

WORKER_GROUP = "sweep-analysis"
KEYS_HINT = "←/→ or [ ] knob   g all knobs   o Pareto front   l log y   Escape or q closes"
NEEDS = "importance needs two completed trials that differ"


@dataclass(frozen=True)
class Loaded:
    """What one read in the worker thread produced: the results, importance, or what went wrong."""

    results: SweepResults | None
    scores: dict[str, float]
    error: str | None = None
    points: PointsCache | None = None  # each knob's scatter points, computed off the UI thread
    basis: str = ""  # which evaluator judged over how many trials, or why none could


def progress_text(record: SweepRecord) -> str:
    """"4 of 6 done: 2 completed, 1 pruned, 1 failed, 1 running", from the trial counts."""
    completed = record.count_if(lambda s: s.scores)
    pruned = record.count(TrialState.PRUNED)
    failed = record.count_if(lambda s: s.is_failure)
    lost = record.count_if(lambda s: s.is_lost)  # a resumed sweep runs these again
    running = record.count(TrialState.RUNNING)
    queued = record.count(TrialState.QUEUED)
    done = completed + pruned + failed
    parts = [f"{completed} completed", f"{pruned} pruned", f"{failed} failed"]
    parts += [f"{n} {word}" for n, word in ((lost, "cancelled or interrupted"), (running, "running"),
                                            (queued, "queued")) if n]
    return f"{done} of {record.planned} done: " + ", ".join(parts)


def varied_keys(results: SweepResults) -> list[str]:
    """The knobs that took more than one value among the completed trials."""
    scored = results.scored
    return [k for k in results.spec.keys() if len({label(p.values.get(k)) for p in scored}) > 1]


def knob_order(results: SweepResults, scores: dict[str, float]) -> list[str]:
    """The sweep's knobs, most important first; those without a score after, in the spec's order."""
    keys = results.spec.keys()
    ranked = [k for k in sorted(scores, key=lambda k: -scores[k]) if k in keys]
    return ranked + [k for k in keys if k not in ranked]


def importance_note(results: SweepResults, scores: dict[str, float], basis: str = "") -> str:
    """Under the bars, where they came from (the evaluator and how many trials); in their place, why
    there are none yet (`basis`: what engine.sweeps.importance said)."""
    scored = len(results.scored)
    if scores:
        if basis:  # which evaluator, over how many trials (one line, whatever the width)
            return f"{results.spec.metric}'s variation {basis}"
        return f"each knob's share of {results.spec.metric}'s variation over {scored} completed trials"
    if basis and scored > 1 and varied_keys(results):
        return basis
    if scored == 0:
        ended = sum(n for state, n in results.record.counts.items() if TrialState(state).is_finished)
        if ended == 0:
            return f"no trial has finished yet: {NEEDS}"
        return f"none of the {ended} finished trials completed with a {results.spec.metric}: {NEEDS}"
    if scored == 1:
        return f"one completed trial so far: {NEEDS}"
    if not varied_keys(results):
        return f"the {scored} completed trials all used the same values: {NEEDS}"
    return "importance could not be computed from these trials"


def best_text(results: SweepResults) -> str:
    """The best trial's objective, id and values, or that there is none yet."""
    if results.spec.multi:
        return front_text(results)
    best = results.best
    metric = results.spec.metric
    if best is None:
        return f"best {metric}: no completed trial yet"
    values = ", ".join(f"{k}={_show(best.values.get(k))}" for k in results.spec.keys())
    return f"best {metric} {fmt_value(best.objective)} in trial #{best.trial_id}: {values}"


def front_text(results: SweepResults) -> str:
    """A multi-objective sweep's front, each trial on it marked ◆ with its objectives, first objective first."""
    front = results.front
    if not front:
        return "Pareto front: no completed trial yet"
    goals = [m for m, _ in results.spec.goals]
    trials = "  ".join(f"◆ #{p.trial_id} " + ", ".join(f"{m} {fmt_value(v)}" for m, v in zip(goals, p.objectives or ()))
                       for p in front)
    return f"Pareto front of {len(front)} of {len(results.scored)}: {trials}"


def _show(value: Any) -> str:
    return label(value) if isinstance(value, (tuple, list, bool)) else fmt_value(value)


def _mark(record: SweepRecord) -> tuple:
    """What must change for the results to be worth reading again: the sweep's state and its ended trials."""
    ended = tuple(sorted((s, n) for s, n in record.counts.items() if s not in ("queued", "running")))
    return record.state, ended


def _line(markup: str, style: str = "") -> Text:
    text = Text.from_markup(markup, style=style, overflow="ellipsis", end="")
    text.no_wrap = True
    return text


class SweepAnalysisScreen(ModalScreen[None]):
    """A sweep's header, importance bars and knob scatter (or all knobs at once, with g)."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("right,right_square_bracket", "cycle(1)", "Next knob"),
        Binding("left,left_square_bracket", "cycle(-1)", "Previous knob"),
        Binding("g", "toggle_grid", "All knobs"),
        Binding("o", "toggle_front", "Pareto front"),
        Binding("l", "toggle_log", "Log y"),
    ]

    DEFAULT_CSS = """
    SweepAnalysisScreen {
        align: center middle;
    }
    #analysis .line {
        width: 1fr;
        height: 1;
    }
    #analysis-bars-box {
        height: auto;
        max-height: 40%;
    }
    #analysis-scatter {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, store: Store, sweep_id: int) -> None:
        super().__init__()
        self.store = store
        self.sweep_id = sweep_id
        self.record: SweepRecord | None = None
        self.results: SweepResults | None = None
        self.scores: dict[str, float] = {}
        self.error: str | None = None
        self.key: str | None = None
        self.grid = False
        self.front: bool | None = None  # the objectives' scatter; None until the first read says if there are two
        self.loads = 0  # reads of the results applied so far; tests wait on it
        self.progress = ""  # the progress line as shown, in plain text
        self._loading = False
        self._loaded_mark: tuple | None = None
        self._ready = False
        self._shown: dict[str, str] = {}  # header line -> markup on screen
        self._points: PointsCache | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="analysis", classes="dialog wide"):  # box and size: tui/styles.tcss
            yield Static(_line(f"[b]sweep {self.sweep_id}[/b]"), id="analysis-title", classes="line")
            yield Static(_line("reading the sweep…"), id="analysis-progress", classes="line")
            yield Static(_line(""), id="analysis-best", classes="line")
            with VerticalScroll(id="analysis-bars-box", can_focus=False):
                yield ImportanceBars(id="analysis-bars")
            yield ParamScatter(id="analysis-scatter")
            yield Static(_line(escaped(KEYS_HINT), style="dim"), id="analysis-keys", classes="line")

    def on_mount(self) -> None:
        self.bars = self.query_one(ImportanceBars)
        self.scatter = self.query_one(ParamScatter)
        self.bars.show({}, "reading the sweep…")
        self.scatter.show(None, None)
        self._ready = True
        self.refresh_results()

    @property
    def keys(self) -> list[str]:
        """The knobs in the order left/right visits them: most important first."""
        return knob_order(self.results, self.scores) if self.results is not None else []

    # --- reading the store -----------------------------------------------------------------------

    def refresh_results(self) -> None:
        """Show the sweep's progress now; re-read its results in a thread if a trial ended since."""
        if not self._ready:
            return  # on_mount reads once the widgets exist
        try:
            record = self.store.sweep(self.sweep_id)
        except Exception as error:  # a closed store, a sweep deleted underneath: say so, keep going
            self._show_error(f"cannot read sweep {self.sweep_id}: {error}")
            return
        self.record = record
        self._show_header()
        if _mark(record) != self._loaded_mark and not self._loading:
            self._start_load()

    def _start_load(self) -> None:
        self._loading = True
        self.run_worker(self._load, name=f"sweep {self.sweep_id} results", group=WORKER_GROUP,
                        thread=True, exit_on_error=False)

    def _load(self) -> Loaded:
        """In the worker thread: the results and their importance; errors come back as text."""
        try:
            results = load_results(self.store, self.sweep_id)
        except Exception as error:
            return Loaded(None, {}, f"cannot read sweep {self.sweep_id}: {error}")
        try:
            points = points_cache(results)
        except Exception:  # the scatter reads them itself, and shows what goes wrong
            points = None
        try:
            judged = importance(results)
        except Exception as error:  # Optuna refusing odd data must not hide the rest
            return Loaded(results, {}, f"importance failed: {type(error).__name__}: {error}", points)
        return Loaded(results, judged.scores, None, points, judged.note)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != WORKER_GROUP or not event.worker.is_finished:
            return
        self._loading = False
        loaded = event.worker.result if event.state == WorkerState.SUCCESS else None
        if not isinstance(loaded, Loaded):
            loaded = Loaded(None, {}, f"reading sweep {self.sweep_id} failed: {event.worker.error!r}")
        self._apply(loaded)
        if self.record is not None and _mark(self.record) != self._loaded_mark and loaded.results is not None:
            self._start_load()  # trials ended while this read ran

    def _apply(self, loaded: Loaded) -> None:
        self.loads += 1
        self.error = loaded.error
        if loaded.results is None:
            if self.record is not None:
                self._loaded_mark = _mark(self.record)  # retry when trials end, not every second
            self._show_error(loaded.error or "no results")
            return
        results = loaded.results
        self.results, self.scores, self._points = results, loaded.scores, loaded.points
        self._loaded_mark = _mark(results.record)
        if self.record is None or _done(results.record) >= _done(self.record):
            self.record = results.record
        keys = self.keys
        if self.key not in keys:
            self.key = keys[0] if keys else None
        self._show_header()
        note = importance_note(results, self.scores, loaded.basis)
        self.bars.show(self.scores, f"{note}; {loaded.error}" if loaded.error else note)
        self._show_plot()

    # --- drawing ---------------------------------------------------------------------------------

    def _show_header(self) -> None:
        record = self.record
        if record is None:
            return
        try:
            style = sweep_style(record.state)
            strategy = self.results.spec.strategy if self.results is not None else record.spec.get("strategy", "?")
            reason = f" ({escaped(record.reason)})" if record.reason else ""
            title = (f"[b]sweep {record.id}: {escaped(record.name)}[/b]  {escaped(str(strategy))}  "
                     f"[{style}]{escaped(SweepState(record.state).value)}[/]{reason}")
            self.progress = progress_text(record)
            best = best_text(self.results) if self.results is not None else ""
        except Exception as error:  # a record from another version with odd fields
            self._show_error(f"cannot show sweep {self.sweep_id}: {error}")
            return
        for widget_id, markup in (("title", title), ("progress", escaped(self.progress)), ("best", escaped(best))):
            if self._shown.get(widget_id) != markup:  # called every second: repaint only what changed
                self._shown[widget_id] = markup
                self.query_one(f"#analysis-{widget_id}", Static).update(_line(markup))

    def _show_error(self, message: str) -> None:
        self.error = message
        self.progress = message
        self._shown.pop("progress", None)
        self.query_one("#analysis-progress", Static).update(_line(escaped(message), style="red"))
        if self.results is None:
            self.bars.show({}, message)
            self.scatter.show(None, None, hint=message)

    def _show_plot(self) -> None:
        results = self.results
        if results is None:
            return
        if self.front is None:
            self.front = results.spec.multi  # a multi-objective sweep opens on its front
        if self.front and results.spec.multi:
            self.scatter.show_front(results)
        elif self.grid:
            keys = [k for k in self.keys if k in varied_keys(results)] or self.keys
            self.scatter.show_grid(results, keys, cache=self._points)
        else:
            self.scatter.show(results, self.key, cache=self._points)

    # --- keys ------------------------------------------------------------------------------------

    def action_cycle(self, step: int) -> None:
        """The next (or previous) knob's scatter; from the grid, back to one knob."""
        keys = self.keys
        if not keys:
            self.app.bell()
            return
        if self.grid or self.front:
            self.grid = self.front = False
        elif self.key in keys:
            self.key = keys[(keys.index(self.key) + step) % len(keys)]
        else:
            self.key = keys[0]
        self._show_plot()

    def action_toggle_grid(self) -> None:
        self.grid, self.front = not self.grid, False
        self._show_plot()

    def action_toggle_front(self) -> None:
        """A multi-objective sweep's two objectives with the Pareto front, or back to the knobs."""
        if self.results is None or not self.results.spec.multi:
            self.notify("One objective: a sweep with metric = [a, b] has a Pareto front", severity="warning",
                        timeout=3)
            return
        self.front = not self.front
        self._show_plot()

    def action_toggle_log(self) -> None:
        self.scatter.log_y = not self.scatter.log_y


def _done(record: SweepRecord) -> int:
    return sum(n for state, n in record.counts.items() if TrialState(state).is_finished)

