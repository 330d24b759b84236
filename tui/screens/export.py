"""Export the table as it is filtered and sorted: format, path, and whether to add the history."""
from __future__ import annotations

from pathlib import Path

import polars as pl
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select

from engine.errors import TunedeckError
from engine.export import export_frame, format_for
from engine.store import Store
from engine.views import history_frame

FORMATS = [("CSV", "csv"), ("Parquet", "parquet"), ("JSON", "json"), ("NDJSON", "ndjson"), ("Markdown", "markdown")]
SUFFIX = {"csv": ".csv", "parquet": ".parquet", "json": ".json", "ndjson": ".ndjson", "markdown": ".md"}


def _format_of(path: str) -> str | None:
    try:
        return format_for(path, None)
    except TunedeckError:
        return None


class ExportScreen(ModalScreen[Path | None]):
    """Dismisses with the path written, or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, frame: pl.DataFrame, store: Store) -> None:
        super().__init__()
        self.frame = frame
        self.store = store

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Export {self.frame.height} trials (as filtered and sorted)", classes="dialog-title")
            yield Select(FORMATS, value="csv", allow_blank=False, id="export-format")
            yield Input(value="trials.csv", placeholder="file path", id="export-path")
            yield Checkbox("the metric history instead (one row per metric per epoch)", id="export-history")
            yield Checkbox("overwrite if the file exists", id="export-force")
            yield Label("", id="export-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export-go")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        path_input = self.query_one("#export-path", Input)
        if _format_of(path_input.value) == event.value:
            return
        stem = Path(path_input.value or "trials").with_suffix("")
        path_input.value = str(stem) + SUFFIX[str(event.value)]

    def on_input_changed(self, event: Input.Changed) -> None:
        """A path typed with a known suffix picks its format, so trials.parquet is Parquet."""
        fmt = _format_of(event.value)
        select = self.query_one("#export-format", Select)
        if fmt is not None and select.value != fmt:
            select.value = fmt

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export-go":
            self._export()
        else:
            self.dismiss(None)

    def _export(self) -> None:
        fmt = str(self.query_one("#export-format", Select).value)
        path = self.query_one("#export-path", Input).value.strip()
        error = self.query_one("#export-error", Label)
        if not path:
            error.update("give a file path")
            return
        frame = self.frame
        if self.query_one("#export-history", Checkbox).value:
            frame = history_frame(self.store.history(self.frame["id"].to_list()))
        try:
            written = export_frame(frame, path, fmt, force=self.query_one("#export-force", Checkbox).value)
        except TunedeckError as exc:
            error.update(str(exc))
            return
        self.dismiss(written)
