"""Form text to config values and back, with no Textual in sight.

The knob form edits text (and booleans from switches); the engine wants typed values and a
validated Config. Keeping the translation here, pure, lets it be tested without a terminal and
keeps the form's rules identical to the engine's: every text is read by the engine's per-kind
grammar (`engine.config.knob_text`, which `--set` uses too) and checked by `coerce`, and the whole
config goes through `Config.from_dict`, so the form can never accept what the engine would reject.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.config.groups import GROUPS, Config, iter_fields
from engine.config.knob_text import format_text, read_text
from engine.config.knobs import BOOL, STR, FieldInfo, Knob, coerce
from engine.errors import ConfigError

NAME_KEY = "name"


@dataclass(frozen=True)
class TopLevelField(FieldInfo):
    """A knob outside the six groups (only `name`): its key has no group prefix."""

    @property
    def key(self) -> str:
        return self.name


NAME_FIELD = TopLevelField(
    group="", name=NAME_KEY, default="",
    knob=Knob(kind=STR, help="A label for the trial in the table; presets name themselves"),
)


def form_fields() -> list[FieldInfo]:
    """Every field the form edits, in form order: `name`, then the groups' knobs."""
    return [NAME_FIELD, *iter_fields()]


def error_message(exc: ConfigError) -> str:
    """The error as shown under its field: rule and value, without the key the field already shows."""
    if exc.has_value:
        return str(ConfigError(exc.rule, value=exc.value))
    return exc.rule


def parse_value(info: FieldInfo, raw: str | bool) -> Any:
    """The knob's value from the editor's text (or a switch's bool), checked against its rules.

    The text grammar is the engine's (`engine.config.knob_text`), the one `--set` reads too, so
    the form and the CLI accept the same texts. Raises ConfigError with the key, the rule and
    the text given.
    """
    if isinstance(raw, bool):
        if info.knob.kind != BOOL:
            raise ConfigError("must be text", key=info.key, value=raw)
        return coerce(info, raw)
    return read_text(info, raw)


def format_value(info: FieldInfo, value: Any) -> str | bool:
    """The editor's content for a value (a bool for a switch), such that `parse_value` gives it back."""
    if info.knob.kind == BOOL:
        return bool(value)
    return format_text(info.knob.kind, value)


def raw_values(config: Config) -> dict[str, str | bool]:
    """Every field's editor content for a config, keyed like the form (`name`, `optim.lr`, ...)."""
    raw: dict[str, str | bool] = {NAME_KEY: format_value(NAME_FIELD, config.name)}
    for info in iter_fields():
        raw[info.key] = format_value(info, config.get(info.key))
    return raw


@dataclass(frozen=True)
class FormState:
    """What the form's current text amounts to.

    `config` is None while anything is wrong; `errors` maps a field key (or, rarely, a group, or
    '' for an error without a key) to the message to show; `applies` says which fields are in use
    for the values given, so the form can hide the rest.
    """

    config: Config | None
    errors: dict[str, str]
    applies: dict[str, bool]

    @property
    def is_valid(self) -> bool:
        return self.config is not None


def evaluate(raw: Mapping[str, str | bool], base: Config | None = None) -> FormState:
    """Parse every field, decide which apply, then validate the whole config as the engine would.

    A field that does not apply and cannot be parsed takes its value from `base` (the config last
    loaded into the form) instead of blocking: it is hidden, so its error could not be seen.
    A field missing from `raw` also takes its value from `base`.
    """
    base = base or Config()
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for info in form_fields():
        if info.key not in raw:
            continue
        try:
            parsed[info.key] = parse_value(info, raw[info.key])
        except ConfigError as exc:
            errors[info.key] = error_message(exc)
    probe = _unchecked_config(base, parsed)
    applies = {info.key: probe.applies(info.key) for info in iter_fields()}
    applies[NAME_KEY] = True
    errors = {key: message for key, message in errors.items() if applies.get(key, True)}
    if errors:
        return FormState(None, errors, applies)
    data = base.to_dict()
    data[NAME_KEY] = parsed.get(NAME_KEY, base.name)
    for key, value in parsed.items():
        if key != NAME_KEY:
            group, _, name = key.partition(".")
            data.setdefault(group, {})[name] = value
    try:
        config = Config.from_dict(data)
    except ConfigError as exc:
        return FormState(None, {exc.key or "": error_message(exc)}, applies)
    return FormState(config, {}, applies)


def _unchecked_config(base: Config, parsed: Mapping[str, Any]) -> Config:
    """A Config from values each already checked, skipping the cross-field rules.

    Only used to ask which knobs apply while the form may still be inconsistent.
    """
    groups: dict[str, Any] = {}
    for group in GROUPS:
        updates = {key.partition(".")[2]: value for key, value in parsed.items()
                   if key.partition(".")[0] == group and "." in key}
        groups[group] = dataclasses.replace(getattr(base, group), **updates)
    return Config(name=parsed.get(NAME_KEY, base.name), **groups)
