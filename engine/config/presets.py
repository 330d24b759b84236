"""Presets: TOML files with one table per config group, found by name or by path.

A preset may say `extends = "other.toml"` (a path relative to it, or a shipped preset's name) and
then only what differs. `--set group.key=value` overrides apply last. Every error is a
ConfigError that names the file, the line where one can be found, the key, the rule and the value.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from engine.config.groups import RESERVED_NAMES, Config, field_info, set_dotted
from engine.config.knob_text import parse_text
from engine.config.knobs import STR, suggest
from engine.config.limits import MAX_EXTENDS, MAX_FILE_BYTES, MAX_TEXT
from engine.config.params import PARAMS, PARAMS_SPEC, TYPES, split_params
from engine.config.toml_io import inline_toml, read_literal, read_toml_text, table_toml, toml_key
from engine.errors import ConfigError

SUFFIX = ".toml"
TEMPLATE = "template"  # the commented template is documentation, not a runnable trial

Sources = dict[str, tuple[Path, str]]  # dotted key -> the file that set it, and that file's text


def shipped_dir() -> Path:
    """The presets folder: beside the packages in a checkout, inside `engine` when installed."""
    source = Path(__file__).resolve().parent.parent / "presets"
    if source.is_dir():
        return source
    from importlib.resources import files

    return Path(str(files("engine.shipped_presets")))


def shipped_names() -> list[str]:
    return sorted(p.stem for p in shipped_dir().glob("*" + SUFFIX))


def find_preset(ref: str, relative_to: Path | None = None) -> Path:
    """A preset path from a path (absolute, or relative to `relative_to` or the cwd) or a shipped name."""
    candidates = []
    given = Path(ref).expanduser()
    if given.is_absolute():
        candidates.append(given)
    else:
        if relative_to is not None:
            candidates.append(relative_to / given)
        candidates.append(Path.cwd() / given)
    if "/" not in ref and os.sep not in ref:
        stem = ref[:-len(SUFFIX)] if ref.endswith(SUFFIX) else ref
        candidates.append(shipped_dir() / (stem + SUFFIX))
    for path in candidates:
        if _is_file(path):
            return path
    hint = suggest(Path(ref).stem, shipped_names())
    raise ConfigError(f"no preset file or shipped preset by that name{hint}; shipped: {', '.join(shipped_names())}",
                      key="preset", value=ref)


def _is_file(path: Path) -> bool:
    """`path.is_file()`, False for a name no file can have (too long, a NUL in it) instead of an exception."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """A TOML file's data and its text (kept to find the line of a key later).

    At most MAX_FILE_BYTES are read: a preset is a few kilobytes, and whatever is far larger is not one.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", file=str(path)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"is larger than {MAX_FILE_BYTES:,} bytes: no preset is", file=str(path))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"cannot be read: not UTF-8 text ({exc.reason} at byte {exc.start}, line {line})",
                          file=str(path)) from None
    try:
        return read_toml_text(text, str(path)), text
    except ConfigError as exc:
        if exc.line is None and exc.key:
            raise exc.located(str(path), _line_of(text, exc.key)) from None
        raise


def _line_of(text: str, key: str) -> int | None:
    """The line that sets a dotted key (`task.options.a[3]`), as near as its first two parts tell."""
    parts = [part.split("[")[0] for part in key.split(".")]
    if len(parts) >= 2 and parts[1]:
        line = locate_line(text, parts[0], parts[1])
        if line:
            return line
    return locate_line(text, "", parts[0]) or locate_line(text, "", f"[{parts[0]}]")


def _raw(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], Sources]:
    """The preset's merged data (its bases first) and, per dotted key, the file and text defining it."""
    resolved = path.resolve()
    if len(chain) >= MAX_EXTENDS:
        raise ConfigError(f"more than {MAX_EXTENDS} presets in one extends chain", key="extends", value=path.name,
                          file=str(chain[-1]))
    if resolved in chain:
        loop = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"extends loop: {loop}", key="extends", file=str(path))
    data, text = read_toml(path)
    base_ref = data.pop("extends", None)
    merged: dict[str, Any] = {}
    sources: Sources = {}
    if base_ref is not None:
        if not isinstance(base_ref, str):
            raise ConfigError("must be a file name or a shipped preset name", key="extends", value=base_ref,
                              file=str(path), line=locate_line(text, "", "extends"))
        try:
            base = find_preset(base_ref, relative_to=path.parent)
        except ConfigError as exc:
            raise ConfigError(exc.rule, key="extends", value=base_ref, file=str(path),
                              line=locate_line(text, "", "extends")) from None
        merged, sources = _raw(base, (*chain, resolved))
        merged.pop("name", None)  # a preset is named by itself or its file, never by its base
        sources.pop("name", None)
    for key, value in data.items():
        if key == PARAMS:
            _merge_params(merged, sources, value, path, text)
            continue
        if isinstance(value, dict):
            target = merged.setdefault(key, {})
            sources.setdefault(key, (path, text))
            if isinstance(target, dict):
                for name, item in value.items():
                    target[name] = item
                    sources[f"{key}.{name}"] = (path, text)
                continue
        merged[key] = value
        sources[key] = (path, text)
    return merged, sources


def _merge_params(merged: dict[str, Any], sources: Sources, raw: Any, path: Path, text: str) -> None:
    """A preset's `[params]` into the stored layout: declarations under `params_spec`, values under `params`.

    A later file's value overrides a base's declaration's default; a redeclaration replaces both.
    """
    try:
        declared, values = split_params(raw, RESERVED_NAMES)
    except ConfigError as exc:
        raise _locate(exc, {exc.key or PARAMS: (path, text)}, path, []) from None
    spec, given = merged.setdefault(PARAMS_SPEC, {}), merged.setdefault(PARAMS, {})
    for name in declared:
        given.pop(name, None)
    spec.update(declared)
    given.update(values)
    sources.setdefault(PARAMS, (path, text))
    sources.update({f"{PARAMS}.{name}": (path, text) for name in raw})


def load_preset(ref: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Resolve a preset (by path or shipped name), apply `--set` overrides and validate.

    A `[search]` table is the sweep's business (`engine.sweeps.preset_search`); a single run ignores it.
    """
    return resolve_preset(ref, overrides).config


@dataclass(frozen=True)
class ResolvedPreset:
    """A validated preset with what the layers above need to place their own errors in it."""

    config: Config
    search: Any  # the raw `[search]` value (with its bases'), or None; never validated here
    sources: Sources
    path: Path


def resolve_preset(ref: str | Path, overrides: Iterable[str] = ()) -> ResolvedPreset:
    """`load_preset`, keeping the raw `[search]` table and where each key was set."""
    overrides = list(overrides)
    path = find_preset(str(ref))
    data, sources = _raw(path, ())
    search = data.pop("search", None)
    data.setdefault("name", path.stem)
    for item in overrides:
        key, value = parse_override(item, data.get(PARAMS_SPEC))
        try:
            set_dotted(data, key, value)
        except ConfigError as exc:
            raise exc.located("--set") from None
        sources.pop(key, None)
    try:
        return ResolvedPreset(Config.from_dict(data), search, sources, path)
    except ConfigError as exc:
        raise _locate(exc, sources, path, overrides) from None


def _locate(exc: ConfigError, sources: Sources, path: Path, overrides: list[str]) -> ConfigError:
    """Place a validation error in the file (and line) that set the offending key."""
    if exc.file:
        return exc
    key = exc.key or ""
    if any(o.partition("=")[0].strip() == key for o in overrides):
        return exc.located("--set")
    if key in sources:
        where, text = sources[key]
        group, _, name = key.rpartition(".")
        line = locate_line(text, group, name) or locate_line(text, "", f"[{key}]")
        return exc.located(str(where), line)
    group = key.split(".")[0]
    for source_key, (where, text) in sources.items():
        if source_key.split(".")[0] == group:
            return exc.located(str(where), locate_line(text, "", f"[{group}]"))
    return exc.located(str(path))


def parse_override(item: str, params: Mapping[str, Any] | None = None) -> tuple[str, Any]:
    """`group.key=value`, the value read by the knob's own text grammar (`engine.config.knob_text`).

    So `--set` accepts what the form accepts: `model.hidden=256,128` as well as `[256, 128]`,
    `3e-4`, `true`, a quoted or bare string (`name=2024` is the text "2024"). A key that is no
    knob (`task.options.n=5`, or a typo that `set_dotted` will name) takes a TOML literal or else
    the bare text. The value's range and choices are checked later, with the whole config.
    `params` are the preset's param declarations (name -> table): `params.x=8` reads by x's type.
    """
    if len(item) > MAX_TEXT:
        raise ConfigError(f"is longer than {MAX_TEXT:,} characters", key="--set", value=item)
    key, eq, text = item.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ConfigError("must look like group.key=value", key="--set", value=item)
    text = text.strip()
    kind = _knob_kind(key, params or {})
    if kind is None:
        try:
            return key, read_literal(text)
        except ValueError:
            return key, text
    try:
        return key, parse_text(kind, text, key)
    except ConfigError as exc:
        raise exc.located("--set") from None


def _knob_kind(key: str, params: Mapping[str, Any]) -> str | None:
    """The kind of the knob `key` names (`name` is text), or None for a key that is no knob."""
    if key == "name":
        return STR
    group, _, name = key.partition(".")
    if group == PARAMS:
        declared = params.get(name)
        return TYPES.get(declared.get("type", "")) if isinstance(declared, Mapping) else None
    try:
        return field_info(key).knob.kind
    except ConfigError:
        return None


def locate_line(text: str, group: str, name: str) -> int | None:
    """The 1-based line that sets `name` inside table `[group]` ('' for top level), if any.

    TOML parsers give no positions for values, yet a user wants to jump to the offending line.
    """
    if name.startswith("["):
        header = re.compile(r"^\s*" + re.escape(name) + r"\s*(#.*)?$")
        for number, line in enumerate(text.splitlines(), 1):
            if header.match(line):
                return number
        return None
    current = ""
    setter = re.compile(r"^\s*[\"']?" + re.escape(name) + r"[\"']?\s*=")
    dotted = re.compile(r"^\s*" + re.escape(f"{group}.{name}") + r"\s*=") if group else None
    for number, line in enumerate(text.splitlines(), 1):
        table = re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if table:
            current = table.group(1).strip()
            continue
        if current == group and setter.match(line):
            return number
        if current == "" and dotted is not None and dotted.match(line):
            return number
    return None


def to_toml(config: Config) -> str:
    """The full resolved config as TOML, lists kept on one line; loading it back gives the same values and
    rules (a declared param's value comes back as its default)."""
    return dict_to_toml(config.to_dict())


def dict_to_toml(data: dict[str, Any]) -> str:
    """A stored config dict as TOML in the preset layout: top-level keys, then one table per group.

    Declared params come last, as the `[params]` table a preset declares them in, each declaration
    holding the param's value as its default.
    """
    data = dict(data)
    params = _params_table(data.pop(PARAMS, None), data.pop(PARAMS_SPEC, None))
    lines = [f"{toml_key(k)} = {inline_toml(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for group, values in data.items():
        if not isinstance(values, dict):
            continue
        lines += ["", f"[{group}]"] if lines else [f"[{group}]"]
        lines += [f"{toml_key(k)} = {inline_toml(v)}" for k, v in values.items() if not isinstance(v, dict)]
        for k, v in values.items():
            if isinstance(v, dict) and v:
                lines += ["", tomli_w.dumps({group: {k: v}}).strip()]
    if params:
        lines += ["", *table_toml(PARAMS, params).splitlines()] if lines else table_toml(PARAMS, params).splitlines()
    return "\n".join(lines) + "\n"


def _params_table(values: Any, spec: Any) -> dict[str, Any]:
    """`[params]` as a preset writes it: declarations with the current value as default (or bare values)."""
    values = dict(values) if isinstance(values, Mapping) else {}
    if not isinstance(spec, Mapping):
        return values
    return {name: ({**decl, "default": values[name]} if isinstance(decl, Mapping) and name in values else decl)
            for name, decl in spec.items()}


def save_preset(config: Config, path: str | Path, *, force: bool = False,
                search: dict[str, Any] | None = None) -> Path:
    """Write atomically; refuse to overwrite unless `force`. `search` adds a `[search]` table."""
    target = Path(path).expanduser()
    if target.exists() and not force:
        raise ConfigError("exists; use --force to overwrite", file=str(target))
    text = to_toml(config)
    if search:
        text += "\n" + table_toml("search", search)  # what preset_search.search_toml writes
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write here: {exc.strerror}", file=str(target)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write: {exc.strerror}", file=str(target)) from None
    return target


def load_config_text(text: str, source: str = "<text>") -> Config:
    """A Config from TOML text (the TUI's clipboard and tests); errors name `source`."""
    data = read_toml_text(text, source)
    try:
        return Config.from_dict(data)
    except ConfigError as exc:
        raise exc.located(source) from None
