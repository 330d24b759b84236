"""The hyperparameter form, generated from the engine's schema.

No field is written by hand: the form walks `iter_fields()`, so a knob added to the engine shows
up here with its help, its rules and its "does it apply" test. Every edit re-validates the whole
config with the engine's own `Config.from_dict`, so `KnobForm.config` is either something the
engine will run or None.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from itertools import groupby

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Collapsible, Input, Select, Static, Switch

from engine.config.groups import GROUP_TITLES, Config, iter_fields
from engine.config.knobs import FieldInfo
from engine.config.params import PARAMS, PARAMS_TITLE
from engine.errors import ConfigError
from tui.formvalues import NAME_FIELD, FormState, error_message, evaluate, format_value, parse_value, raw_values
from tui.widgets.knob_field import KnobField, editor_id


class KnobForm(Widget):
    """Every knob, grouped as the config is, hiding those the current values do not use.

    Editors have ids `knob-<group>-<name>` (`knob-optim-lr`, `knob-name`); each field's
    container is `field-<group>-<name>` and each group's Collapsible is `group-<group>`. A config
    that declares params adds a Params group (`group-params`, `knob-params-<name>`).
    """

    DEFAULT_CSS = """
    KnobForm {
        height: 1fr;
        width: 1fr;
        & > #knob-form-scroll { height: 1fr; }
        & #field-name { padding-left: 1; margin-bottom: 1; }
        & Collapsible > Contents { padding: 0 0 0 2; }
        & > #knob-form-summary {
            color: $text-error; height: 1; display: none;
            text-wrap: nowrap; text-overflow: ellipsis; padding: 0 1;
        }
    }
    """

    class Changed(Message):
        """The user edited the form, or a config was loaded into it.

        `config` is None while the form is invalid; `errors` maps field keys to messages.
        """

        def __init__(self, form: KnobForm, config: Config | None, errors: dict[str, str]) -> None:
            super().__init__()
            self.form = form
            self.config = config
            self.errors = errors

        @property
        def control(self) -> KnobForm:
            return self.form

    def __init__(
        self,
        config: Config | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._base = config or Config()
        self._raw = _raw_values(self._base)
        self._state = _evaluate(self._raw, self._base)
        self._fields: dict[str, KnobField] = {}
        self._summary = Static("", id="knob-form-summary", markup=False)
        self._summary_text = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="knob-form-scroll", can_focus=False):
            yield self._new_field(NAME_FIELD)
            for group, infos in groupby(iter_fields(), key=lambda info: info.group):
                with Collapsible(title=GROUP_TITLES[group], collapsed=False, id=f"group-{group}"):
                    for info in infos:
                        yield self._new_field(info)
            if self._base.param_fields:
                yield self._params_group(self._base.param_fields)
        yield self._summary

    def _params_group(self, infos: tuple[FieldInfo, ...]) -> Collapsible:
        return Collapsible(*(self._new_field(info) for info in infos), title=PARAMS_TITLE, collapsed=False,
                           id=f"group-{PARAMS}")

    def _new_field(self, info: FieldInfo) -> KnobField:
        shown = _visible(self._state, info.key)
        field = KnobField(info, self._raw[info.key], built=shown)
        field.display = shown
        self._fields[info.key] = field
        return field

    def on_mount(self) -> None:
        self._show(self._state)

    @property
    def config(self) -> Config | None:
        """The validated config the form shows, or None while anything is wrong."""
        return self._state.config

    @property
    def errors(self) -> dict[str, str]:
        """Field key -> what is wrong with it (empty when valid)."""
        return dict(self._state.errors)

    @property
    def is_valid(self) -> bool:
        return self._state.config is not None

    @property
    def state(self) -> FormState:
        """Config, errors and which knobs apply, as last evaluated."""
        return self._state

    def field(self, key: str) -> KnobField:
        """The field for a dotted key (`optim.lr`) or `name`."""
        return self._fields[key]

    def editor(self, key: str) -> Widget:
        """The editor widget for a key; its id is `editor_id(key)`."""
        return self._fields[key].editor

    def load(self, config: Config) -> None:
        """Fill every field from a config (a preset, a cloned trial) and post one Changed.

        A config declaring other params than the form shows gets its own Params group.
        """
        old, self._base, self._raw = self._base, config, _raw_values(config)
        if config.param_fields != old.param_fields:
            for info in old.param_fields:
                del self._fields[info.key]
            self.call_later(self._swap_params, self._params_group(config.param_fields)
                            if config.param_fields else None)
        with self.prevent(Input.Changed, Select.Changed, Switch.Changed):
            for key, field in self._fields.items():
                field.set_raw(self._raw[key])
        self._revalidate()

    async def _swap_params(self, group: Collapsible | None) -> None:
        await self.query(f"#group-{PARAMS}").remove()
        if group is not None:
            await self.query_one("#knob-form-scroll", VerticalScroll).mount(group)
            self._show(self._state)

    @property
    def keys(self) -> list[str]:
        """Every field's key in the form's order (`name`, `task.name`, ..., the params)."""
        return list(self._fields)

    def reveal(self, key: str) -> None:
        """Focus a knob's editor (the one an error names, the one asked for by name), opening its group and
        showing it even where it does not apply."""
        field = self._fields[key]
        for ancestor in field.ancestors:
            if isinstance(ancestor, Collapsible):
                ancestor.collapsed = False
        field.build()
        field.display = True
        self.call_after_refresh(field.editor.focus)
        self.call_after_refresh(field.scroll_visible, animate=False)

    @on(KnobField.Edited)
    def _field_edited(self, event: KnobField.Edited) -> None:
        event.stop()
        self._raw[event.field.key] = event.raw
        self._revalidate()

    def _revalidate(self) -> None:
        self._state = _evaluate(self._raw, self._base)
        self._show(self._state)
        self.post_message(self.Changed(self, self._state.config, dict(self._state.errors)))

    def _show(self, state: FormState) -> None:
        for key, field in self._fields.items():
            message = state.errors.get(key)
            if message != (field.error or None):
                field.set_error(message)
            visible = _visible(state, key) or field.has_focus_within
            if field.display != visible:
                if visible:
                    field.build()
                field.display = visible
        summary = "; ".join(f"{key}: {message}" if key else message for key, message in state.errors.items())
        if summary != self._summary_text:
            self._summary_text = summary
            self._summary.update(f"✗ {summary}")
            self._summary.display = bool(summary)


def _visible(state: FormState, key: str) -> bool:
    """A knob is shown when it applies to the current values, or when it is wrong."""
    return state.applies.get(key, True) or key in state.errors


def _raw_values(config: Config) -> dict[str, str | bool]:
    """Every field's editor content, the config's params included."""
    raw = raw_values(config)
    raw.update({info.key: format_value(info, config.params[info.name]) for info in config.param_fields})
    return raw


def _evaluate(raw: Mapping[str, str | bool], base: Config) -> FormState:
    """`evaluate`, the params' texts read and checked by their own knobs first, as every field is."""
    values = dict(base.params)
    errors: dict[str, str] = {}
    for info in base.param_fields:
        try:
            values[info.name] = parse_value(info, raw[info.key])
        except ConfigError as exc:
            errors[info.key] = error_message(exc)
    state = evaluate(raw, dataclasses.replace(base, params=values))
    if errors:
        return FormState(None, {**state.errors, **errors}, state.applies)
    return state


__all__ = ["KnobForm", "editor_id"]
