"""How big and how deep a preset, a `--set` value or a `[search]` table may be.

Every bound is far beyond what a real preset needs and low enough that the parser, our own
recursive code (merging, writing TOML, repr in a message) and SQLite never meet the input that
breaks them: a 5,000-digit integer (Python refuses to read it: ValueError), an integer too big for
a float or for SQLite (OverflowError), arrays or tables nested a thousand deep (RecursionError),
a megabyte string echoed back in an error. Text is checked before it is parsed (`check_toml_text`),
because the parser itself is what breaks on some of it; the parsed value after (`check_value`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError

MAX_FILE_BYTES = 1_000_000  # a preset file; the shipped ones are about 1 KB, the commented template 8 KB
MAX_DEPTH = 32  # arrays and tables inside one another, dotted keys and headers included
MAX_EXTENDS = 16  # presets in one `extends` chain, the preset itself included
MAX_TEXT = 10_000  # characters of a string value, a `--set` item or a field's text
MAX_KEY = 256  # characters of a key
MAX_ITEMS = 10_000  # items of one array, entries of one table
MAX_WORD = 300  # characters of a bare word (a number, a bare or dotted key) in TOML text
INT_RANGE = (-(2**63), 2**63 - 1)  # TOML's integers are 64-bit; so are SQLite's

__all__ = ["MAX_FILE_BYTES", "MAX_DEPTH", "MAX_EXTENDS", "MAX_TEXT", "MAX_KEY", "MAX_ITEMS", "MAX_WORD",
           "INT_RANGE", "check_toml_text", "check_value", "int_problem", "BoundError"]


class BoundError(ConfigError):
    """A ConfigError for input past one of these bounds (so a caller can place it without a line)."""


# One token at a time: the four kinds of TOML string and comments are skipped whole (brackets and
# digits inside them mean nothing), brackets are counted, bare words measured.
_TOKEN = re.compile(r'''
    (?P<string>"""(?:[^"\\]|\\[\s\S]|"(?!""))*(?:"""|\Z)
              |\'\'\'[\s\S]*?(?:\'\'\'|\Z)
              |"(?:[^"\\\n]|\\.)*(?:"|$)
              |'[^'\n]*(?:'|$))
  | (?P<comment>\#[^\n]*)
  | (?P<open>[\[{])
  | (?P<close>[\]}])
  | (?P<word>[A-Za-z0-9_+\-.:]+)
''', re.VERBOSE | re.MULTILINE)


def check_toml_text(text: str, source: str | None = None) -> None:
    """Refuse TOML text nested deeper than MAX_DEPTH or holding a bare word (a number) longer than
    MAX_WORD, before a parser sees it; the error names `source` and the line."""
    depth = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "open":
            depth += 1
            if depth > MAX_DEPTH:
                raise BoundError(f"arrays or tables nested more than {MAX_DEPTH} deep", file=source,
                                 line=_line(text, match.start()))
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "word" and match.end() - match.start() > MAX_WORD:
            word = match.group()
            what = "a number" if word.lstrip("+-")[:1].isdigit() else "a bare key or value"
            raise BoundError(f"{what} longer than {MAX_WORD} characters", value=word, file=source,
                             line=_line(text, match.start()))


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def int_problem(value: int) -> str | None:
    """Why an integer cannot be a value here (outside 64 bits), or None."""
    if INT_RANGE[0] <= value <= INT_RANGE[1]:
        return None
    return "must be a 64-bit integer (between -2**63 and 2**63-1)"


def check_value(value: Any, key: str | None = None) -> None:
    """Refuse parsed data past a bound: too deep, too many items, a key or a string too long, an
    integer beyond 64 bits. Walks without recursion; the error names the dotted key at fault."""
    stack: list[tuple[tuple[str, ...], int, Any]] = [((key,) if key else (), 0, value)]
    while stack:
        path, depth, item = stack.pop()
        if isinstance(item, (Mapping, list, tuple)):
            if depth >= MAX_DEPTH:
                raise BoundError(f"arrays or tables nested more than {MAX_DEPTH} deep", key=_dotted(path))
            if len(item) > MAX_ITEMS:
                what = f"a table of more than {MAX_ITEMS:,} entries" if isinstance(item, Mapping) else \
                    f"an array of more than {MAX_ITEMS:,} items"
                raise BoundError(what, key=_dotted(path))
        if isinstance(item, Mapping):
            for name, inner in item.items():
                if len(str(name)) > MAX_KEY:
                    raise BoundError(f"a key longer than {MAX_KEY} characters", key=_dotted(path) or None,
                                     value=str(name))
                stack.append(((*path, str(name)), depth + 1, inner))
        elif isinstance(item, (list, tuple)):
            last = path[-1] if path else ""
            stack.extend(((*path[:-1], f"{last}[{i}]"), depth + 1, v) for i, v in enumerate(item))
        elif isinstance(item, str):
            if len(item) > MAX_TEXT:
                raise BoundError(f"a string longer than {MAX_TEXT:,} characters", key=_dotted(path), value=item)
        elif isinstance(item, int) and not isinstance(item, bool):
            problem = int_problem(item)
            if problem:
                raise BoundError(problem, key=_dotted(path), value=item)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)
