"""The Sweep dialog: the same `[search]` table a preset holds, edited before a sweep starts.

Settings are fields; the knobs to vary are TOML lines, exactly as in a preset, so what works here
works in a file and back. Start validates everything against the form's config first and shows
the first broken rule in the dialog; the dialog dismisses with a checked SearchSpec, or None.
"""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, TextArea

from engine.config.groups import Config
from engine.config.toml_io import tomllib
from engine.errors import ConfigError
from engine.sweeps.preset_search import search_space_toml
from engine.sweeps.spec import DIRECTIONS, METRICS, PRUNERS, STRATEGIES, SearchSpec, parse_search

NUMBER_FIELDS = ("trials", "parallel", "seed")
CHOICE_FIELDS = {"strategy": STRATEGIES, "pruner": PRUNERS, "metric": tuple(METRICS), "direction": DIRECTIONS}


def default_table(base: Config) -> dict[str, Any]:
    """A first search around the form's config: the learning rate a decade either side, and L2."""
    lr = base.optim.lr
    return {"strategy": "tpe", "trials": 20, "parallel": 2, "pruner": "median", "metric": "val_loss",
            "optim.lr": {"low": float(f"{lr / 10:.3g}"), "high": float(f"{min(1.0, lr * 10):.3g}"), "log": True},
            "reg.weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}}


class SweepDialog(ModalScreen[SearchSpec | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+g", "start", "Start sweep", priority=True)]

    def __init__(self, base: Config, table: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.base = base
        self.table = dict(table) if table else default_table(base)
        # A list of metrics (a multi-objective search) is kept as the preset gives it, shown but not edited here.
        self.multi = isinstance(self.table.get("metric"), list)

    def compose(self) -> ComposeResult:
        t = self.table
        with VerticalScroll(classes="dialog sweep"):
            yield Label(f"Sweep around the form's config ({self.base.name or self.base.task.name})",
                        classes="dialog-title")
            with Grid(id="sweep-settings"):
                for name in ("strategy", "trials", "parallel", "seed", "pruner", "metric", "direction"):
                    yield from self._field(name, t)
            yield Label('Knobs to vary (TOML): \\[a, b] or { low, high, log, step }', classes="field-label",
                        id="space-label")
            yield TextArea(search_space_toml(t), id="sweep-space", language=None, soft_wrap=False, compact=True)
            yield Label("", id="sweep-error", classes="-empty")
            with Horizontal(classes="dialog-buttons"):
                yield Label("Escape cancels  ", classes="field-label")
                yield Button("Start sweep ^g", variant="success", id="sweep-go", compact=True)
                yield Button("Cancel", id="sweep-cancel", compact=True)

    def _field(self, name: str, t: dict[str, Any]) -> ComposeResult:
        with Vertical(classes="sweep-field"):
            yield Label(name, classes="field-label")
            yield self._widget(name, t)

    def _widget(self, name: str, t: dict[str, Any]) -> Input | Select:
        if self.multi and name in ("metric", "direction"):
            given = t.get(name)
            shown = ", ".join(map(str, given)) if isinstance(given, list) else "each metric's own"
            return Select([(shown, shown)], value=shown, allow_blank=False, id=f"sweep-{name}", prompt=name,
                          compact=True, disabled=True)
        if name in CHOICE_FIELDS:
            default = t.get(name) or (METRICS[t.get("metric", "val_loss")] if name == "direction" else None)
            options = [(o, o) for o in CHOICE_FIELDS[name]]
            value = default if default in CHOICE_FIELDS[name] else options[0][1]
            return Select(options, value=value, allow_blank=False, id=f"sweep-{name}", prompt=name, compact=True)
        placeholder = {"trials": "grid: all; else 20", "seed": "random"}.get(name, "")
        return Input(str(t[name]) if t.get(name) is not None else "", placeholder=placeholder, id=f"sweep-{name}",
                     compact=True)

    def on_mount(self) -> None:
        self.query_one("#sweep-space", TextArea).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "sweep-metric" and event.value in METRICS:
            self.query_one("#sweep-direction", Select).value = METRICS[event.value]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "sweep-go":
            self.action_start()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def current_table(self) -> dict[str, Any]:
        """What the fields say, as a `[search]` table; ConfigError for a field that is not a number."""
        # Settings without a field here (name, placement, startup_trials, warmup_epochs) are kept as given.
        table: dict[str, Any] = {k: v for k, v in self.table.items()
                                 if "." not in k and k not in CHOICE_FIELDS and k not in NUMBER_FIELDS}
        for name in CHOICE_FIELDS:
            if self.multi and name in ("metric", "direction"):
                if name in self.table:
                    table[name] = self.table[name]
                continue
            table[name] = self.query_one(f"#sweep-{name}", Select).value
        for name in NUMBER_FIELDS:
            text = self.query_one(f"#sweep-{name}", Input).value.strip()
            if not text:
                continue
            try:
                table[name] = int(text)
            except ValueError:
                raise ConfigError("must be a whole number", key=f"search.{name}", value=text) from None
        source = self.query_one("#sweep-space", TextArea).text
        try:
            space = tomllib.loads(source)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"TOML syntax error in the knobs to vary: {exc}") from None
        for key, value in space.items():
            table[key] = value
        return table

    def action_start(self) -> None:
        error = self.query_one("#sweep-error", Label)
        try:
            table = self.current_table()
            spec = parse_search(table, self.base)
        except ConfigError as exc:
            error.update(str(exc).replace("[", "\\["))
            error.remove_class("-empty")
            return
        self.table = table
        self.dismiss(spec)
