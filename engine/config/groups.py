"""The trial config: one frozen, introspectable description of everything a trial is made of.

A config has six groups, each a frozen dataclass and a table in a preset: task, model, optim,
reg, early_stop and run. `Config.from_dict` is the only way in from outside (presets, `--set`,
the TUI form) and it validates every value, so a Config that exists is a Config that can run.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.config.consistency import BUILTIN_TASKS, SCRIPT_TASK, check_consistency
from engine.config.knobs import (
    TABLE,
    FieldInfo,
    coerce,
    iter_group_fields,
    suggest,
)
from engine.config.limits import MAX_TEXT
from engine.config.model_knobs import ModelConfig
from engine.config.optim_knobs import EarlyStopConfig, OptimConfig, RegConfig
from engine.config.params import (
    PARAMS,
    PARAMS_SPEC,
    declaration,
    find_param,
    param_values,
    parse_declarations,
    set_param,
    split_params,
)
from engine.config.run_knobs import RunConfig
from engine.config.task_knobs import TaskConfig, is_plugin
from engine.errors import ConfigError

GROUPS: dict[str, type] = {
    "task": TaskConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "reg": RegConfig,
    "early_stop": EarlyStopConfig,
    "run": RunConfig,
}
GROUP_TITLES = {
    "task": "Task", "model": "Model", "optim": "Optimization", "reg": "Regularization",
    "early_stop": "Early stopping", "run": "Run",
}


@dataclass(frozen=True)
class Config:
    """A complete, validated trial description. Build it with `Config.from_dict`."""

    name: str = ""
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    reg: RegConfig = dataclasses.field(default_factory=RegConfig)
    early_stop: EarlyStopConfig = dataclasses.field(default_factory=EarlyStopConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    params: dict = dataclasses.field(default_factory=dict, hash=False)  # the user's own knobs: name -> value
    param_fields: tuple[FieldInfo, ...] = ()  # their declarations, as knobs of group "params"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Validate a nested mapping (as read from TOML) into a Config.

        Unknown groups or keys are errors with a "did you mean" hint; missing keys take defaults.
        Declared params come from `params_spec`, or from tables in `params` (a preset's layout).
        """
        data = dict(data)
        name = data.pop("name", "")
        if not isinstance(name, str):
            raise ConfigError("must be a string", key="name", value=name)
        if len(name) > MAX_TEXT:
            raise ConfigError(f"must be at most {MAX_TEXT:,} characters long", key="name", value=name)
        param_fields, params = _build_params(data.pop(PARAMS_SPEC, None), data.pop(PARAMS, None))
        groups: dict[str, Any] = {}
        for group, values in data.items():
            if group not in GROUPS:
                raise ConfigError("unknown table" + suggest(group, list(GROUPS) + ["name"]), key=group)
            if not isinstance(values, Mapping):
                raise ConfigError(f"must be a table [{group}]", key=group, value=values)
            groups[group] = _build_group(group, values)
        for group, gcls in GROUPS.items():
            groups.setdefault(group, gcls())
        config = cls(name=name, **groups, params=params, param_fields=param_fields)
        check_consistency(config)
        return config

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (lists, not tuples), the inverse of `from_dict`."""
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        for group in GROUPS:
            out[group] = {k: _plain(v) for k, v in dataclasses.asdict(getattr(self, group)).items()}
        if self.param_fields:  # values as a script reads them, declarations apart
            out[PARAMS] = {k: _plain(v) for k, v in self.params.items()}
            out[PARAMS_SPEC] = {f.name: declaration(f) for f in self.param_fields}
        return out

    def fields(self) -> tuple[FieldInfo, ...]:
        """Every knob of this config: the built-in ones, then its declared params."""
        return (*iter_fields(), *self.param_fields)

    def field_info(self, key: str) -> FieldInfo:
        """`field_info`, knowing this config's params too."""
        return find_param(self.param_fields, key) if key.startswith(PARAMS + ".") else field_info(key)

    def flat(self) -> dict[str, Any]:
        """Dotted key -> value for every knob, e.g. {'optim.lr': 0.001, 'params.num_heads': 4, ...}."""
        return {f.key: self.get(f.key) for f in self.fields()}

    def get(self, key: str) -> Any:
        group, _, name = key.partition(".")
        if group == PARAMS:
            return self.params[name]
        return getattr(getattr(self, group), name)

    def applies(self, key: str) -> bool:
        """Whether a knob is in use for this config (CNN channels do not apply to an MLP)."""
        info = self.field_info(key)
        return info.knob.applies is None or bool(info.knob.applies(self))

    def with_updates(self, updates: Mapping[str, Any]) -> Config:
        """A new validated Config with dotted-key updates applied."""
        data = self.to_dict()
        for key, value in updates.items():
            set_dotted(data, key, value)
        return Config.from_dict(data)

    @property
    def task_label(self) -> str:
        """The task as shown to the user; a plugin shows its import path."""
        return self.task.name


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


RESERVED_NAMES = (*GROUPS, "name", PARAMS, PARAMS_SPEC)  # what a param may not be called


def _build_params(spec: Any, raw: Any) -> tuple[tuple[FieldInfo, ...], dict[str, Any]]:
    declared, values = split_params(raw, RESERVED_NAMES)
    if spec is not None and not isinstance(spec, Mapping):
        raise ConfigError("must be a table of declarations", key=PARAMS_SPEC, value=spec)
    fields = parse_declarations({**(spec or {}), **declared}, RESERVED_NAMES)
    return fields, param_values(fields, values)


def _build_group(group: str, values: Mapping[str, Any]) -> Any:
    gcls = GROUPS[group]
    infos = {f.name: f for f in iter_group_fields(group, gcls)}
    kwargs = {}
    for name, value in values.items():
        if name not in infos:
            options = [f"{group}.{n}" for n in infos]
            raise ConfigError("unknown key" + suggest(f"{group}.{name}", options), key=f"{group}.{name}")
        kwargs[name] = coerce(infos[name], value)
    return gcls(**kwargs)


def iter_fields() -> Iterator[FieldInfo]:
    """Every knob in form order: group by group, field by field."""
    for group, gcls in GROUPS.items():
        yield from iter_group_fields(group, gcls)


def field_info(key: str) -> FieldInfo:
    for info in iter_fields():
        if info.key == key:
            return info
    raise ConfigError("unknown key" + suggest(key, [f.key for f in iter_fields()]), key=key)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `group.name` in a nested dict, checking that the key exists."""
    if key == "name":
        data["name"] = value
        return
    group, dot, name = key.partition(".")
    if group == PARAMS and dot:
        set_param(data, key, value)
        return
    if not dot or group not in GROUPS:
        raise ConfigError("unknown key" + suggest(key, [f.key for f in iter_fields()] + ["name"]), key=key)
    table_key, _, inner = key.rpartition(".") if key.count(".") >= 2 else ("", "", "")
    if inner and field_info(table_key).knob.kind == TABLE:  # task.options.n=5 sets one option
        table = data.setdefault(group, {}).setdefault(table_key.split(".", 1)[1], {})
        if not isinstance(table, dict):
            raise ConfigError("must be a table", key=table_key, value=table)
        table[inner] = value
        return
    field_info(key)
    table = data.setdefault(group, {})
    if not isinstance(table, dict):
        raise ConfigError(f"must be a table [{group}]", key=group, value=table)
    table[name] = value


def applicable_view(stored: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """A stored config without the knobs that play no part in it, and how many were left out.

    A config stored by another version of tunedeck that no longer validates is returned whole.
    """
    try:
        config = Config.from_dict(stored)
    except ConfigError:
        return dict(stored), 0
    shown: dict[str, Any] = {"name": stored["name"]} if stored.get("name") else {}
    omitted = 0
    for info in iter_fields():
        if config.applies(info.key):
            group = stored.get(info.group, {})
            shown.setdefault(info.group, {})[info.name] = group.get(info.name, info.default)
        else:
            omitted += 1
    for key in (PARAMS, PARAMS_SPEC):  # the user's own knobs always play a part
        if key in stored:
            shown[key] = stored[key]
    return shown, omitted


__all__ = [
    "Config", "TaskConfig", "ModelConfig", "OptimConfig", "RegConfig", "EarlyStopConfig", "RunConfig",
    "GROUPS", "GROUP_TITLES", "BUILTIN_TASKS", "SCRIPT_TASK", "iter_fields", "field_info", "set_dotted", "is_plugin",
]
