"""A preset's `[search]` table: read into a checked SearchSpec, and written back as TOML.

The config layer reads presets and leaves `[search]` as raw data, because what a search means
is the sweeps' business; this module sits above both, so the config layer never imports a sweep.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.config.presets import ResolvedPreset, Sources, locate_line, resolve_preset
from engine.config.toml_io import inline_toml, table_toml, toml_key
from engine.errors import ConfigError
from engine.sweeps.pinned import check_available
from engine.sweeps.spec import SearchSpec, flatten_search, parse_search

__all__ = ["load_preset_and_search", "load_preset_with_search", "load_sweep", "search_space_toml", "search_toml"]

_NO_SEARCH = ('has no [search] table to sweep; add one, e.g. [search] with strategy = "random", trials = 20 '
              'and "optim.lr" = { low = 1e-4, high = 1e-1, log = true }')


def load_sweep(ref: str | Path, overrides: Iterable[str] = (),
               settings: dict[str, Any] | None = None) -> tuple[Config, SearchSpec]:
    """The base config and its `[search]` spec; `settings` (e.g. --trials) override the table's.

    An error in the search is placed in the file (and line) that set the offending key, or on
    the command-line option that gave the setting.
    """
    resolved, spec = load_preset_and_search(ref, overrides, settings)
    if spec is None:
        raise ConfigError(_NO_SEARCH, file=str(resolved.path))
    try:
        check_available(spec)  # a strategy or pruner whose package is absent: said before anything is stored
    except ConfigError as exc:
        raise _locate_search(exc, resolved.sources, resolved.path, settings or {}) from None
    return resolved.config, spec


def load_preset_and_search(ref: str | Path, overrides: Iterable[str] = (),
                           settings: dict[str, Any] | None = None) -> tuple[ResolvedPreset, SearchSpec | None]:
    """The resolved preset and its `[search]` table checked (None when it has none): what `tunedeck
    preset show` prints, so that a bad table is found there and not only when a sweep starts."""
    resolved = resolve_preset(ref, overrides)
    if resolved.search is None:
        return resolved, None
    try:
        return resolved, parse_search(resolved.search, resolved.config, overrides=settings)
    except ConfigError as exc:
        raise _locate_search(exc, resolved.sources, resolved.path, settings or {}) from None


def _locate_search(exc: ConfigError, sources: Sources, path: Path, settings: dict[str, Any]) -> ConfigError:
    key = (exc.key or "search").removeprefix("search").lstrip(".")
    if key.split(".")[0] in settings:
        kwargs = {"value": exc.value} if exc.has_value else {}
        return ConfigError(exc.rule, key=f"--{key.split('.')[0]}", **kwargs)
    parts = key.split(".")
    candidates = [".".join(parts[:n]) for n in range(len(parts), 0, -1)]  # optim.lr.lo, optim.lr, optim
    for name in candidates:
        if f"search.{name}" in sources:
            where, text = sources[f"search.{name}"]
            line = next((n for n in (locate_line(text, "search", c) for c in candidates) if n), None)
            return exc.located(str(where), line)
    where, text = sources.get("search", (path, ""))
    return exc.located(str(where), locate_line(text, "", "[search]"))


def load_preset_with_search(ref: str | Path, overrides: Iterable[str] = ()) -> tuple[Config, dict[str, Any] | None]:
    """The validated config and its raw `[search]` table (with its bases', keys flattened), from one
    read of the preset files; the cockpit loads the config into the form and the Sweep dialog starts
    from the table. The table is not checked here: the dialog shows its errors when it is used."""
    resolved = resolve_preset(ref, overrides)
    table = resolved.search
    return resolved.config, flatten_search(table) if isinstance(table, dict) else None


def search_toml(table: dict[str, Any]) -> str:
    """A whole `[search]` table: its settings, then one line per knob to vary."""
    return table_toml("search", table)


def search_space_toml(table: dict[str, Any]) -> str:
    """The knob lines of a `[search]` table (dotted keys) as TOML, one knob per line, ranges inline."""
    return "".join(f"{toml_key(k)} = {inline_toml(v)}\n" for k, v in table.items() if "." in k)
