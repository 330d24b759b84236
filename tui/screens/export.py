"""Export the table as it is filtered and sorted: format, path, and whether to add the history."""
from __future__ import annotations

from pathlib import Path

import polars as pl
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select

from engine.errors import TunedeckError
from engine.store import Store
from engine.tables.export import export_frame, format_for
from engine.tables.frames import history_frame
from tui.screens.write_dialog import WriteDialog

FORMATS = [("CSV", "csv"), ("Parquet", "parquet"), ("JSON", "json"), ("NDJSON", "ndjson"), ("Markdown", "markdown")]
SUFFIX = {"csv": ".csv", "parquet": ".parquet", "json": ".json", "ndjson": ".ndjson", "markdown": ".md"}


def _format_of(path: str) -> str | None:
    try:
        return format_for(path, None)
    except TunedeckError:
        return None


class ExportScreen(WriteDialog):
    """Dismisses with the path written, or None when cancelled."""

    PREFIX = "export"
    ACTION = "Export"

    def __init__(self, frame: pl.DataFrame, store: Store) -> None:
        super().__init__()
        self.frame = frame
        self.store = store

    def title_text(self) -> str:
        return f"Export {self.frame.height} trials (as filtered and sorted)"

    def default_path(self) -> str:
        return "trials.csv"

    def fields_beside_path(self) -> list[Widget]:
        return [Select(FORMATS, value="csv", allow_blank=False, id="export-format")]

    def fields_below(self) -> list[Widget]:
        return [Checkbox("the metric history instead (a row per value)", id="export-history", compact=True)]

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

    def write(self, path: str, force: bool) -> Path:
        frame = self.frame
        if self.query_one("#export-history", Checkbox).value:
            frame = history_frame(self.store.history(self.frame["id"].to_list()))
        return export_frame(frame, path, str(self.query_one("#export-format", Select).value), force=force)
