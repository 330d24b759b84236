"""The device panel: the box's GPUs with the trials on each, its CPUs and memory, and a Ray cluster's
nodes, read every two seconds in a worker thread (an NVML call may take tens of milliseconds and must
not hold up the UI) and shown as `tunedeck devices` prints them."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.devices import Snapshot, snapshot_lines, take_snapshot
from engine.store import Store
from tui.text import markup

REFRESH_SECONDS = 2.0


class DevicesScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    class Read(Message):
        """A snapshot was read (or failed to be: `problem`)."""

        def __init__(self, snapshot: Snapshot | None, problem: str | None = None) -> None:
            super().__init__()
            self.snapshot = snapshot
            self.problem = problem

    def __init__(self, store: Store | None) -> None:
        super().__init__()
        self.store = store
        self.reads = 0  # snapshots shown so far
        self._reading = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide devices"):  # a GPU's line is about 110 wide: tui/styles.tcss
            yield Static(f"[b]devices[/b]   (refreshed every {REFRESH_SECONDS:g} s; Escape closes)",
                         classes="dialog-title")
            yield Static("reading the devices ...", id="devices-body")

    def on_mount(self) -> None:
        self._refresh()
        self.set_interval(REFRESH_SECONDS, self._refresh)

    def _refresh(self) -> None:
        if self._reading:  # NVML or the store slower than the interval: skip a beat rather than pile up
            return
        self._reading = True
        self.run_worker(self._read, thread=True, exit_on_error=False, group="devices")

    def _read(self) -> None:
        try:
            self.post_message(self.Read(take_snapshot(self.store)))
        except Exception as exc:  # noqa: BLE001 - whatever NVML or the store raised, said in one line
            self.post_message(self.Read(None, f"{type(exc).__name__}: {exc}"))

    @on(Read)
    def _show(self, message: Read) -> None:
        self._reading = False
        if message.snapshot is None:
            text = f"[b red]cannot read the devices:[/] {markup(message.problem or '')}"
        else:
            text = "\n".join(snapshot_lines(message.snapshot)).replace("[", "\\[")  # each line is safe_text already
        self.reads += 1
        self.query_one("#devices-body", Static).update(text)
