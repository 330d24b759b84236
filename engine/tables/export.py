"""Writing frames to files that other tools read, and reading them back.

Every write goes to a hidden temporary file beside the target and is renamed over it only when
complete, so an export either exists whole or not at all. JSON and NDJSON write infinities and
NaN as null, because JSON has no literal for them; the other formats keep them.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import polars as pl

from engine.errors import ExportError

FORMATS = ("csv", "parquet", "json", "ndjson", "markdown")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
             ".md": "markdown", ".markdown": "markdown"}
_ALIASES = {"md": "markdown", "jsonl": "ndjson"}


def format_for(path: str | Path, fmt: str | None) -> str:
    """The format to write: the one named, else the one the suffix says, so `-o runs.csv` just works."""
    if fmt:
        name = _ALIASES.get(fmt.lower(), fmt.lower())
        if name not in FORMATS:
            raise ExportError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return name
    suffix = Path(path).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    said = f"suffix {suffix!r}" if suffix else "no suffix"
    raise ExportError(f"{path}: cannot tell the format from {said}; use a .csv, .parquet, .json, .ndjson, "
                      f".jsonl or .md name, or name one of {', '.join(FORMATS)}")


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def export_frame(frame: pl.DataFrame, path: str | Path, fmt: str | None, *, force: bool = False) -> Path:
    """Write `frame` to `path` atomically: a reader never sees half a file, and nothing is clobbered unforced.

    `fmt` None takes the format from the suffix.
    """
    target = Path(path)
    fmt = format_for(target, fmt)
    if target.is_dir():
        raise ExportError(f"{target} is a directory")
    if target.exists() and not force:
        raise ExportError(f"{target} exists; use --force to overwrite")
    parent = target.parent
    if not parent.is_dir():
        raise ExportError(f"cannot write {target}: directory {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            _WRITERS[fmt](frame, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, Exception):
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ExportError(f"cannot write {target} as {fmt}: {reason}") from exc
        raise
    _sync_dir(parent)
    return target


def _sync_dir(directory: Path) -> None:
    with suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_export(path: str | Path, fmt: str | None, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Read an export back with the dtypes it was written with, so a round trip is exact."""
    source = Path(path)
    fmt = format_for(source, fmt)
    schema = pl.Schema(schema)
    try:
        if fmt == "csv":
            frame = pl.read_csv(source, schema=schema)
        elif fmt == "parquet":
            frame = pl.read_parquet(source)
        elif fmt == "json":
            frame = pl.read_json(source, schema=schema)
        elif fmt == "ndjson":
            frame = pl.read_ndjson(source, schema=schema)
        else:
            frame = _read_markdown(source.read_text(encoding="utf-8"), schema)
        return frame.select(list(schema)).cast(pl.Schema(schema))
    except ExportError:
        raise
    except Exception as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ExportError(f"cannot read {source} as {fmt}: {reason}") from exc


# Markdown: a GitHub table. A null is an empty cell. A string that would not survive as bare text
# (empty, padded, with control characters or a leading quote) is written as a JSON string. In
# both forms `\` escapes the next character, so `|` inside a cell is `\|`.

_BARE = re.compile(r'^[^\s"\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$')


def _md_text(text: str) -> str:
    if _BARE.match(text):
        return text.replace("\\", "\\\\").replace("|", "\\|")
    return json.dumps(text, ensure_ascii=False).replace("|", "\\|")


def _md_cell(value: Any, dtype: pl.DataType) -> str:
    if value is None:
        return ""
    if dtype.is_float():
        return repr(float(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        return _md_text(value)
    return _md_text(str(value))


def _write_markdown(frame: pl.DataFrame, fh: IO[bytes]) -> None:
    columns = [[_md_text(name)] for name in frame.columns]
    for col, series in zip(columns, frame.iter_columns()):
        col.extend(_md_cell(v, series.dtype) for v in series.to_list())
    widths = [max(3, *(len(c) for c in col)) for col in columns]
    right = [series.dtype.is_numeric() for series in frame.iter_columns()]
    lines = []
    for i in range(frame.height + 1):
        cells = [col[i].rjust(w) if r and i else col[i].ljust(w) for col, w, r in zip(columns, widths, right)]
        lines.append("| " + " | ".join(cells) + " |")
        if i == 0:
            lines.append("|" + "|".join(("-" * (w + 1) + ":") if r else "-" * (w + 2)
                                        for w, r in zip(widths, right)) + "|")
    fh.write(("\n".join(lines) + "\n").encode("utf-8"))


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    cells, cur, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur.append(line[i:i + 2])
            i += 2
            continue
        if ch == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    tail = "".join(cur).strip()
    if tail:
        cells.append(tail)
    return cells


def _md_decode_text(cell: str) -> str:
    if cell.startswith('"'):
        return json.loads(cell.replace("\\|", "|"))
    return re.sub(r"\\(.)", r"\1", cell)


def _md_parse(cell: str, dtype: pl.DataType) -> Any:
    if cell == "":
        return None
    if dtype.is_float():
        return float(cell)
    if dtype.is_integer():
        return int(cell)
    if dtype == pl.Boolean:
        return {"true": True, "false": False}[cell]
    if isinstance(dtype, pl.Datetime):
        return dt.datetime.fromisoformat(cell)
    if dtype == pl.Date:
        return dt.date.fromisoformat(cell)
    return _md_decode_text(cell)


def _read_markdown(text: str, schema: pl.Schema) -> pl.DataFrame:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise ExportError("not a markdown table (no header and separator rows)")
    header = [_md_decode_text(c) for c in _split_row(lines[0])]
    missing = [name for name in schema if name not in header]
    if missing:
        raise ExportError(f"markdown table lacks column(s) {', '.join(missing)}")
    rows = [_split_row(line) for line in lines[2:]]
    data: dict[str, pl.Series] = {}
    for name, dtype in schema.items():
        j = header.index(name)
        values = [_md_parse(row[j] if j < len(row) else "", dtype) for row in rows]
        data[name] = pl.Series(name, values, dtype=dtype)
    return pl.DataFrame(data, schema=schema)


def _write_csv(frame: pl.DataFrame, fh: IO[bytes]) -> None:
    frame.write_csv(fh)


def _write_parquet(frame: pl.DataFrame, fh: IO[bytes]) -> None:
    frame.write_parquet(fh)


def _write_json(frame: pl.DataFrame, fh: IO[bytes]) -> None:
    fh.write(frame.write_json().encode("utf-8"))


def _write_ndjson(frame: pl.DataFrame, fh: IO[bytes]) -> None:
    frame.write_ndjson(fh)


_WRITERS: dict[str, Callable[[pl.DataFrame, IO[bytes]], None]] = {
    "csv": _write_csv, "parquet": _write_parquet, "json": _write_json, "ndjson": _write_ndjson,
    "markdown": _write_markdown,
}
