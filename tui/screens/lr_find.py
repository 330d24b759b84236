"""The learning-rate probe on the form's config: the loss against the rate, and a key to use the suggestion.

The probe (engine/training/lr_probe) runs in a child process (engine.execution.probe_child), so the
cockpit never imports torch for it, keeps its own threads and random state, and survives a plugin that
crashes its interpreter; a thread worker reads the points the child streams back, and the screen draws
them a few times a second, and the finding when it ends. Escape kills the child. A probe that cannot
run (a task whose data is missing, a model that diverges at once, a child that died) says why in the
status line, never as a traceback. Enter or `a` closes the screen with the suggested rate, which
the cockpit puts into the form's optim.lr.
"""
from __future__ import annotations

import threading

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from engine.config.groups import Config
from engine.errors import safe_text
from engine.execution.probe_child import ProbeChild
from engine.training.lr_probe import LrFinding, ProbePoint, ProbeSettings, describe
from tui.widgets.knob_form import KnobForm
from tui.widgets.lr_plot import LrPlot

WORKER_GROUP = "lr-probe"
TICK_SECONDS = 0.3
KEYS = "   (Escape closes, Enter or a puts the suggestion into optim.lr)"


def form_rate(lr: float) -> float:
    """The suggestion as the form shows it: three significant digits (0.0203, not 0.020255019392306662)."""
    return float(f"{lr:.3g}")


def put_rate(form: KnobForm, lr: float | None) -> None:
    """The screen's result into the form's optim.lr (the rest of the form as it is), said in a notification."""
    current = form.config
    if lr is not None and current is not None:
        form.load(current.with_updates({"optim.lr": lr}))
        form.notify(f"optim.lr = {lr:g}, the probe's suggestion", timeout=3)


class LrFindScreen(ModalScreen[float | None]):
    """A range test of `config` over `settings`' ramp; dismissed with the rate to use, or None."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close"), Binding("enter,a", "apply", "Use the suggestion")]

    DEFAULT_CSS = """
    LrFindScreen { align: center middle; }
    #lr-title, #lr-status { width: 1fr; height: auto; }
    #lr-plot { height: 1fr; min-height: 8; }
    """

    def __init__(self, config: Config, settings: ProbeSettings | None = None) -> None:
        super().__init__()
        self.config = config
        self.settings = settings or ProbeSettings()
        self.child: ProbeChild | None = None  # started by the worker thread, killed on close
        self.cancel = threading.Event()
        self.finding: LrFinding | None = None
        self.error: str | None = None
        self._shown = 0

    def compose(self) -> ComposeResult:
        s = self.settings
        name = safe_text(self.config.name or self.config.task_label, 60)
        with Vertical(id="lr-find", classes="dialog wide"):  # box and size: tui/styles.tcss
            yield Static(f"Learning-rate probe of {name}: {s.steps} steps, lr {s.start:g} to {s.end:g}{KEYS}",
                         id="lr-title", markup=False)
            yield Static("building the trial…", id="lr-status", markup=False)
            yield LrPlot("building the trial…", id="lr-plot")

    def on_mount(self) -> None:
        self.run_worker(self._probe, name="learning-rate probe", group=WORKER_GROUP, thread=True,
                        exit_on_error=False)
        self.set_interval(TICK_SECONDS, self._tick)

    def on_unmount(self) -> None:
        self.cancel.set()
        if self.child is not None:
            self.child.stop()  # gone before the screen is: a new probe never runs beside this one

    @property
    def points(self) -> list[ProbePoint]:
        """The points the child has sent so far (extended by the worker thread, read by the tick)."""
        return self.child.points if self.child is not None else []

    def _probe(self) -> LrFinding | str:
        """In the worker thread: the finding, or what went wrong as one line."""
        try:
            self.child = ProbeChild(self.config, self.settings)
            if self.cancel.is_set():  # closed while the child started
                self.child.stop()
                return "stopped"
            return self.child.run(self.cancel)
        except Exception as exc:  # our own bug must not take the cockpit down either
            return f"{type(exc).__name__}: {exc}"

    @property
    def running(self) -> bool:
        return self.finding is None and self.error is None

    def _tick(self) -> None:
        if not self.running or len(self.points) == self._shown:
            return
        self._shown = len(self.points)
        self.query_one("#lr-status", Static).update(f"probing: step {self._shown} of {self.settings.steps}")
        # the points so far, not judged yet (judging walks them all in Python: once, at the end)
        so_far = LrFinding(self.settings, tuple(self.points[:self._shown]), None, None, None, None, "running")
        self.query_one(LrPlot).show(so_far, running=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != WORKER_GROUP or not event.worker.is_finished or not self.is_attached:
            return  # closed while it ran: the ramp stopped at its next step, nothing to show
        result = event.worker.result if event.state == WorkerState.SUCCESS else None
        if isinstance(result, LrFinding):
            self.finding = result
            self.query_one("#lr-status", Static).update(safe_text(describe(result), 600))
            self.query_one(LrPlot).show(result)
            return
        self.error = result if isinstance(result, str) else f"the probe stopped: {event.worker.error!r}"
        line = "cannot probe: " + safe_text(self.error, 600)
        self.query_one("#lr-status", Static).update(line)
        self.query_one(LrPlot).show_hint(line)

    def action_apply(self) -> None:
        if self.finding is None or self.finding.suggested is None:
            said = "the probe is still running" if self.running else "there is no suggestion to use"
            self.notify(said, severity="warning", timeout=3)
            return
        self.dismiss(form_rate(self.finding.suggested))
