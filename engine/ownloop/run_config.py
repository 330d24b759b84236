"""`run.config` and the trial's Config of a script: the script's defaults, checked, and the trial's values.

The defaults given to `tunedeck.init(config=...)` hold two kinds of key: tunedeck's built-in knobs
under their dotted names (`optim.lr`: the part before the first dot names one of tunedeck's
groups), checked by the same rules as a preset's; and the script's own knobs under any other name
(`hidden`), which become the trial's declared params (`[params]`, engine/config/params.py), their
type taken from the default: an int, a float, a bool, a str or a list of ints. So a trial run by
hand stores them in its config, and the trial table shows them like any knob.

`run.config` is flat: every built-in knob by its dotted name, every param by its own name.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.groups import GROUPS, SCRIPT_TASK, Config, set_dotted
from engine.config.params import PARAMS
from engine.errors import ConfigError


@dataclass(frozen=True)
class Defaults:
    """The script's defaults, split: built-in dotted knobs, and the script's own knobs."""

    builtin: dict[str, Any]
    params: dict[str, Any]


def script_path() -> str:
    """The running script, absolute (`sys.argv[0]`); `python -c` and notebooks give what they have."""
    first = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if first and os.path.isfile(first):
        return os.path.abspath(first)
    return first or "<interactive>"


def split_defaults(defaults: Mapping[str, Any] | None, script: str) -> Defaults:
    """Check the defaults' keys and values; ConfigError (one line, naming the script and the key) if one is bad."""
    builtin: dict[str, Any] = {}
    params: dict[str, Any] = {}
    if defaults is None:
        return Defaults(builtin, params)
    if not isinstance(defaults, Mapping):
        raise ConfigError("tunedeck.init(config=...) must be a dict of knob -> value", value=defaults, file=script)
    for key, value in defaults.items():
        if not isinstance(key, str) or not key:
            raise ConfigError("a knob's name must be a non-empty string", key=str(key), file=script)
        if key.partition(".")[0] in GROUPS:
            if key == "task.name" and value != SCRIPT_TASK:
                raise ConfigError(f"is {SCRIPT_TASK!r} for a trial of tunedeck.init", key=key, value=value, file=script)
            builtin[key] = value
        else:
            params[key] = value
    split = Defaults(builtin, params)
    build_config("", script, split)  # checked by the knobs' own rules now, so that a typo fails before training
    return split


def _declaration(name: str, value: Any) -> dict[str, Any]:
    """A param declared by its default: the type is the default's."""
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "int"
    elif isinstance(value, float):
        kind = "float"
    elif isinstance(value, str):
        kind = "str"
    elif isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        kind, value = "int_list", list(value)
    else:
        raise ConfigError("a script's own knob must default to an int, float, bool, str or a list of ints",
                          key=name, value=value)
    return {"type": kind, "default": value}


def build_config(name: str, script: str, defaults: Defaults) -> Config:
    """The Config of a trial run by hand: task `script` at `script`, the defaults, the script's knobs declared."""
    data: dict[str, Any] = {"name": name, "task": {"name": SCRIPT_TASK, "path": script}}
    try:
        for key, value in defaults.builtin.items():
            set_dotted(data, key, value)
        if defaults.params:
            data[PARAMS] = {key: _declaration(key, value) for key, value in defaults.params.items()}
        return Config.from_dict(data)
    except ConfigError as exc:
        raise exc.located(exc.file or script) from None


def run_values(config: Config) -> dict[str, Any]:
    """A trial's values as `run.config` holds them: built-in knobs dotted, the script's own by name."""
    prefix = PARAMS + "."
    return {**{key: value for key, value in config.flat().items() if not key.startswith(prefix)}, **config.params}


def launched_config(config: Mapping[str, Any], handoff: Path) -> Config:
    """The Config a handoff carries; ConfigError names the handoff file when it does not validate."""
    try:
        return Config.from_dict(config)
    except ConfigError as exc:
        raise exc.located(str(handoff)) from None
