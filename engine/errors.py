"""Error types the user sees as one- or two-line messages, never as tracebacks.

Also the one function that makes text from outside (a preset's names, keys and values, a trial's
name or error, a path) safe to print on a terminal: `safe_text`. Every message built here, and
every name, key and value the CLI and the cockpit's table print, goes through it.
"""
from __future__ import annotations

import reprlib
from typing import Any

ELLIPSIS = "…"
SHOWN_VALUE = 80  # how much of a value an error message shows
SHOWN_KEY = 120  # ... of a key
SHOWN_FILE = 300  # ... of a file name (absolute paths run long)
SHOWN_RULE = 400  # ... of a rule (which may quote a key or a list of choices)

# Control characters (C0, DEL, C1), line and paragraph separators, and the invisible marks that
# reorder or hide text (bidi overrides and isolates, zero-width marks, the BOM): printed raw they
# move the cursor, clear the screen, set the window title, split a line or disguise what it says. Lone
# surrogates too (an argument's undecodable bytes, as Python hands them over): they cannot be printed.
_UNSAFE = {c for c in range(0x20)} | {c for c in range(0x7F, 0xA0)} | {
    0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
    0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF} | set(range(0xD800, 0xE000))
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# `\u001b` rather than Python's `\x1b`: the same escape reads back in TOML and JSON strings, so TOML text
# that went through safe_text (`tunedeck preset show`) still reads back as the same values.
_ESCAPES = {c: _NAMED.get(chr(c)) or f"\\u{c:04x}" for c in _UNSAFE}
_LINE_ESCAPES = {c: e for c, e in _ESCAPES.items() if c != 0x0A}


def safe_text(value: Any, limit: int | None = None, *, keep_newlines: bool = False) -> str:
    """`value` as text that prints as what it says: control characters and invisible marks escaped
    (`\\u001b`, `\\r`, `\\u202e`), so a name cannot clear the screen or split a message; longer than
    `limit`, it is cut with an ellipsis and its length (`abc… (2,500,000 characters)`).

    `keep_newlines` keeps `\\n` for text that is several lines on purpose (a traceback).
    """
    text = value if isinstance(value, str) else _plain_str(value)
    suffix = ""
    if limit is not None and len(text) > limit:
        suffix = f"{ELLIPSIS} ({len(text):,} characters)"
        text = text[:limit]
    return text.translate(_LINE_ESCAPES if keep_newlines else _ESCAPES) + suffix


def show_value(value: Any, limit: int = SHOWN_VALUE) -> str:
    """A value as an error message quotes it: strings in quotes, lists and tables as written, long
    ones cut (`'xxxx…' (2,500,000 characters)`), deep ones elided, never a control character."""
    if isinstance(value, str):
        if len(value) <= limit:
            return safe_text(repr(value))
        shown = repr(value[:limit])
        return safe_text(f"{shown[:-1]}{ELLIPSIS}{shown[-1]} ({len(value):,} characters)")
    return safe_text(_REPR.repr(value), limit)


def _plain_str(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _BIG_BITS:
        return _big_int(value)
    try:
        return str(value)
    except (ValueError, RecursionError):  # a container holding such an integer, or nested past the stack
        return _REPR.repr(value)


_BIG_BITS = 3 * 1000  # about 900 digits: beyond this an integer is described, not written out


def _big_int(value: int) -> str:
    digits = int(value.bit_length() * 0.30103) + 1
    return f"{'-' if value < 0 else ''}<an integer of about {digits:,} digits>"


class _BoundedRepr(reprlib.Repr):
    """reprlib's bounded repr (a few levels, a few dozen items), with huge integers described."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 24
        self.maxstring = SHOWN_VALUE
        self.maxother = SHOWN_VALUE
        self.maxlong = 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > _BIG_BITS:
            return _big_int(x)
        return super().repr_int(x, level)


_REPR = _BoundedRepr()


class TunedeckError(Exception):
    """Base for every error that is the user's input, not our bug."""


class ConfigError(TunedeckError):
    """A preset, an override or a form value broke a rule.

    The message names where (file and line when known), the dotted key, the rule and the value
    given, in the style `presets/a.toml:4: optim.lr: must be > 0, got -0.1`. It is always one line:
    every part is passed through `safe_text` and shortened, so a key holding a newline or a value
    of megabytes neither splits nor floods it.
    """

    _UNSET = object()

    def __init__(
        self,
        rule: str,
        *,
        key: str | None = None,
        value: Any = _UNSET,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.rule = rule
        self.key = key
        self.value = None if value is ConfigError._UNSET else value
        self.has_value = value is not ConfigError._UNSET
        self.file = file
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = safe_text(self.file, SHOWN_FILE) + (f":{self.line}" if self.line else "") + ": "
        key = f"{safe_text(self.key, SHOWN_KEY)}: " if self.key else ""
        got = f", got {show_value(self.value)}" if self.has_value else ""
        return f"{where}{key}{safe_text(self.rule, SHOWN_RULE)}{got}"

    def located(self, file: str | None, line: int | None = None) -> ConfigError:
        """The same error, placed in a file (keeps a line already known)."""
        kwargs: dict[str, Any] = {"key": self.key, "file": file, "line": self.line or line}
        if self.has_value:
            kwargs["value"] = self.value
        return ConfigError(self.rule, **kwargs)


class TaskError(TunedeckError):
    """The task's data cannot be used: missing file or column, empty split, one class only."""


class StoreError(TunedeckError):
    """The trial store cannot be opened or read as asked."""


class ExportError(TunedeckError):
    """An export could not be written; nothing partial is left behind."""


class StoreFault(StoreError):
    """The store's disk, permissions or lock failed: not the user's input, so not exit status 2.

    `exit_status` is what the CLI exits with (BSD sysexits: 74 I/O error, 75 try again later,
    77 no permission); every message says what happened and what to do.
    """

    exit_status = 74


class StoreBusyError(StoreFault):
    """Another process held the store's lock past the busy timeout: try again later."""

    exit_status = 75


class StoreReadOnlyError(StoreFault):
    """The store may be read here but not written (file or folder without write permission)."""

    exit_status = 77
