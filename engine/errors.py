"""Error types the user sees as one- or two-line messages, never as tracebacks."""
from __future__ import annotations

from typing import Any


class TunedeckError(Exception):
    """Base for every error that is the user's input, not our bug."""


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return str(value)


class ConfigError(TunedeckError):
    """A preset, an override or a form value broke a rule.

    The message names where (file and line when known), the dotted key, the rule and the value
    given, in the style `presets/a.toml:4: optim.lr: must be > 0, got -0.1`.
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
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.key}: " if self.key else ""
        got = f", got {_show(self.value)}" if self.has_value else ""
        return f"{where}{key}{self.rule}{got}"

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
