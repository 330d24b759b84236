"""One trial in full: why it stopped, its summary, the knobs that applied, and every epoch.

The knobs and the epoch table stand side by side where the dialog is wide enough for both; where it
is not (80 columns), the epoch table comes first, full width, and the knobs follow under it.
"""
from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from engine.config.groups import applicable_view
from engine.config.presets import dict_to_toml
from engine.devices.trial_gpu import gpu_memory_text
from engine.metric_names import summary_text
from engine.store import Store
from engine.store.schema import TrialRecord
from engine.tables.formatting import checkpoint_summary, fmt_duration, fmt_value
from tui.text import markup
from tui.theme import trial_style

EPOCH_COLUMNS = ("epoch", "train_loss", "val_loss", "val_acc", "lr", "epoch_seconds")
LABELS = {"epoch_seconds": "seconds"}
CONFIG_WIDTH = 50  # #detail-config in tui/styles.tcss


class DetailScreen(ModalScreen[int | None]):
    """Dismissed with the trial's id when the user asks to clone it (c), else with None."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close"), Binding("c", "clone", "Clone into form")]
    DEFAULT_CSS = """
    DetailScreen.stacked #detail-body { layout: vertical; }
    DetailScreen.stacked #detail-epochs { margin-bottom: 1; }
    """

    def __init__(self, store: Store, trial_id: int) -> None:
        super().__init__()
        self.record: TrialRecord = store.trial(trial_id)
        self.epochs = store.epochs(trial_id)
        self.checkpoints = store.checkpoints(trial_id)
        # A metric no epoch has (val_acc of a regression) gets no column; a trial with no epoch shows them all.
        self.epoch_columns = [c for c in EPOCH_COLUMNS
                              if c == "epoch" or not self.epochs or any(e.get(c) is not None for e in self.epochs)]
        self.table_width = 0  # what the epoch table needs to show every column, known once it is filled

    def compose(self) -> ComposeResult:
        r = self.record
        style = trial_style(r.state)
        with VerticalScroll(classes="dialog detail"):
            yield Static(f"[b]trial {r.id}: {markup(r.name)}[/b]  [{style}]{r.state.value}[/]  task [b]{markup(r.task)}[/b]"
                         f"   (Escape closes, c clones)", classes="dialog-title")
            yield Static(self._summary(), id="detail-summary")
            if r.error:
                yield Static(f"[b red]error[/]\n{markup(r.error.rstrip(), keep_newlines=True)}", id="detail-error")
            with Horizontal(id="detail-body"):
                yield Static(markup(self._config_text(), keep_newlines=True), id="detail-config")
                table: DataTable = DataTable(id="detail-epochs", zebra_stripes=True, cursor_type="row")
                yield table

    def on_mount(self) -> None:
        table = self.query_one("#detail-epochs", DataTable)
        rows = [[fmt_value(e.get(c)) for c in self.epoch_columns] for e in self.epochs]
        labels = [LABELS.get(c, c) for c in self.epoch_columns]
        for column, label in zip(self.epoch_columns, labels):
            table.add_column(label, key=column)
        table.add_rows(rows)
        cells = [max([len(label)] + [len(row[i]) for row in rows]) + 2 * table.cell_padding
                 for i, label in enumerate(labels)]
        self.table_width = sum(cells) + 2  # and a scrollbar's width, for a long run

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._fit_body)

    def _fit_body(self) -> None:
        """Knobs beside the epochs when every epoch column fits beside them, else epochs above knobs."""
        bodies = self.query("#detail-body")
        if not bodies:  # closed before the layout settled
            return
        body = bodies.first(Horizontal)
        stacked = body.size.width < CONFIG_WIDTH + self.table_width
        if stacked == self.has_class("stacked"):
            return
        self.set_class(stacked, "stacked")
        table, config = self.query_one("#detail-epochs", DataTable), self.query_one("#detail-config", Static)
        if stacked:
            body.move_child(table, before=config)
        else:
            body.move_child(table, after=config)

    def _summary(self) -> str:
        r = self.record
        env = r.env or {}
        return (f"[b]why[/b]      {markup(r.reason or '-')}\n"
                f"[b]summary[/b]  {summary_text(r, fmt_value, sep='   ')}   {fmt_duration(r.duration_s)}\n"
                f"[b]ran on[/b]   {env.get('hostname', '-')} {r.device or '-'}   torch {env.get('torch', '-')}"
                f"   tunedeck {env.get('tunedeck', '-')}{self._gpu()}\n"
                f"[b]saved[/b]    {markup(checkpoint_summary(self.checkpoints))}{self._resumed()}"
                + (f"\n[b yellow]note[/]     {markup(r.note)}" if r.note else ""))

    def _gpu(self) -> str:
        text = gpu_memory_text(self.record.env or {}, self.record.run_info or {}, self.record.device)
        return f"\n[b]gpu[/b]      {markup(text)}" if text else ""

    def _resumed(self) -> str:
        resumed = self.record.run_info.get("resumed") or []
        epochs = ", ".join(str(entry.get("epoch")) for entry in resumed if isinstance(entry, dict))
        return f"   resumed from epoch {epochs}" if epochs else ""

    def _config_text(self) -> str:
        shown, omitted = applicable_view(self.record.config)
        note = f"# {omitted} knobs that do not apply are left out\n" if omitted else ""
        return note + dict_to_toml(shown)

    def action_clone(self) -> None:
        self.dismiss(self.record.id)  # whoever opened the view loads it into its form

