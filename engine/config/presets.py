"""Presets: TOML files with one table per config group, found by name or by path.

A preset may say `extends = "other.toml"` (a path relative to it, or a shipped preset's name) and
then only what differs. `--set group.key=value` overrides apply last. Every error is a
ConfigError that names the file, the line where one can be found, the key, the rule and the value.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from engine.config.groups import Config, field_info, set_dotted
from engine.errors import ConfigError
from engine.config.knobs import CHOICE, STR, suggest

if TYPE_CHECKING:
    from engine.sweeps.spec import SearchSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SUFFIX = ".toml"
TEMPLATE = "template"  # the commented template is documentation, not a runnable trial


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
        if path.is_file():
            return path
    hint = suggest(Path(ref).stem, shipped_names())
    raise ConfigError(f"no preset file or shipped preset by that name{hint}; shipped: {', '.join(shipped_names())}",
                      key="preset", value=ref)


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read: {exc.strerror if isinstance(exc, OSError) else exc}",
                          file=str(path)) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, str(path)) from None


def _syntax_error(exc: Exception, source: str) -> ConfigError:
    """The parser's message with its position moved into the error's line."""
    message = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    line = int(match.group(1)) if match else None
    rule = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
    return ConfigError(f"TOML syntax error: {rule}", file=source, line=line)


def _raw(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], dict[str, tuple[Path, str]]]:
    """The preset's merged data (its bases first) and, per dotted key, the file and text defining it."""
    resolved = path.resolve()
    if resolved in chain:
        loop = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"extends loop: {loop}", key="extends", file=str(path))
    data, text = read_toml(path)
    base_ref = data.pop("extends", None)
    merged: dict[str, Any] = {}
    sources: dict[str, tuple[Path, str]] = {}
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


def load_preset(ref: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Resolve a preset (by path or shipped name), apply `--set` overrides and validate.

    A `[search]` table is the sweep's business (`load_sweep`); a single run ignores it.
    """
    return _load(ref, overrides)[0]


def load_sweep(ref: str | Path, overrides: Iterable[str] = (),
               settings: dict[str, Any] | None = None) -> tuple[Config, "SearchSpec"]:
    """The base config and its `[search]` spec; `settings` (e.g. --trials) override the table's."""
    from engine.sweeps.spec import parse_search

    config, search, sources, path = _load(ref, overrides)
    if search is None:
        raise ConfigError("has no [search] table to sweep; add one, e.g.\n  [search]\n  strategy = \"random\"\n"
                          "  trials = 20\n  \"optim.lr\" = { low = 1e-4, high = 1e-1, log = true }", file=str(path))
    try:
        return config, parse_search(search, config, overrides=settings)
    except ConfigError as exc:
        raise _locate_search(exc, sources, path, settings or {}) from None


def _locate_search(exc: ConfigError, sources: dict[str, tuple[Path, str]], path: Path,
                   settings: dict[str, Any]) -> ConfigError:
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


def search_table(ref: str | Path) -> dict[str, Any] | None:
    """A preset's raw `[search]` table (with its bases'), or None; the TUI's Sweep dialog starts from it."""
    from engine.sweeps.spec import flatten_search

    path = find_preset(str(ref))
    data, _ = _raw(path, ())
    table = data.get("search")
    return flatten_search(table) if isinstance(table, dict) else None


def search_toml(table: dict[str, Any]) -> str:
    """A whole `[search]` table: its settings, then one line per knob to vary."""
    import tomli_w

    settings = {k: v for k, v in table.items() if "." not in k}
    head = tomli_w.dumps(settings) if settings else ""
    return "[search]\n" + head + search_space_toml(table)


def search_space_toml(table: dict[str, Any]) -> str:
    """The knob lines of a `[search]` table (dotted keys) as TOML, one knob per line, ranges inline."""
    return "".join(f'"{k}" = {_inline_toml(v)}\n' for k, v in table.items() if "." in k)


def _inline_toml(v: Any) -> str:
    """One TOML value on one line: lists as `[a, b]`, tables as `{ k = v }` (tomli-w spreads both out)."""
    import tomli_w

    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_inline_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_inline_toml(x) for x in v) + "]"
    return tomli_w.dumps({"v": v}).strip()[len("v = "):]


def _load(ref: str | Path, overrides: Iterable[str]) -> tuple[Config, Any, dict[str, tuple[Path, str]], Path]:
    overrides = list(overrides)
    path = find_preset(str(ref))
    data, sources = _raw(path, ())
    search = data.pop("search", None)
    data.setdefault("name", path.stem)
    for item in overrides:
        key, value = parse_override(item)
        try:
            set_dotted(data, key, value)
        except ConfigError as exc:
            raise exc.located("--set") from None
        sources.pop(key, None)
    try:
        return Config.from_dict(data), search, sources, path
    except ConfigError as exc:
        raise _locate(exc, sources, path, overrides) from None


def _locate(exc: ConfigError, sources: dict[str, tuple[Path, str]], path: Path, overrides: list[str]) -> ConfigError:
    """Place a validation error in the file (and line) that set the offending key."""
    if exc.file:
        return exc
    key = exc.key or ""
    if any(o.partition("=")[0].strip() == key for o in overrides):
        return exc.located("--set")
    if key in sources:
        where, text = sources[key]
        group, _, name = key.rpartition(".")
        line = locate_line(text, group, name) or (locate_line(text, "", f"[{key}]") if not group else None)
        return exc.located(str(where), line)
    group = key.split(".")[0]
    for source_key, (where, text) in sources.items():
        if source_key.split(".")[0] == group:
            return exc.located(str(where), locate_line(text, "", f"[{group}]"))
    return exc.located(str(path))


def parse_override(item: str) -> tuple[str, Any]:
    """`group.key=value`, where value is a TOML literal (`3e-4`, `[256, 128]`, `true`) or a bare string."""
    key, eq, text = item.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ConfigError("must look like group.key=value", key="--set", value=item)
    text = text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    if not isinstance(value, str) and _wants_text(key):
        value = text  # --set name=2024 or task.path=inf mean the text, not a number
    return key, value


def _wants_text(key: str) -> bool:
    if key == "name":
        return True
    try:
        return field_info(key).knob.kind in (STR, CHOICE)
    except ConfigError:
        return False


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
    """The full resolved config as TOML, lists kept on one line; loading it back gives an equal Config."""
    return dict_to_toml(config.to_dict())


def dict_to_toml(data: dict[str, Any]) -> str:
    """A stored config dict as TOML in the preset layout: top-level keys, then one table per group."""
    import tomli_w

    lines = [f"{k} = {_inline_toml(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for group, values in data.items():
        if not isinstance(values, dict):
            continue
        lines += ["" if lines else None, f"[{group}]"]
        lines += [f"{k} = {_inline_toml(v)}" for k, v in values.items() if not isinstance(v, dict)]
        for k, v in values.items():
            if isinstance(v, dict) and v:
                lines += ["", tomli_w.dumps({group: {k: v}}).strip()]
    return "\n".join(line for line in lines if line is not None) + "\n"


def save_preset(config: Config, path: str | Path, *, force: bool = False,
                search: dict[str, Any] | None = None) -> Path:
    """Write atomically; refuse to overwrite unless `force`. `search` adds a `[search]` table."""
    target = Path(path).expanduser()
    if target.exists() and not force:
        raise ConfigError("exists; use --force to overwrite", file=str(target))
    text = to_toml(config)
    if search:
        text += "\n" + search_toml(search)
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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, source) from None
    try:
        return Config.from_dict(data)
    except ConfigError as exc:
        raise exc.located(source) from None
