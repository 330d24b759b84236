"""Text from the store or a preset, made safe to draw: one rule for every screen of the cockpit.

A trial's name, reason, note or error is whatever a preset, a plugin or a script wrote. Drawn as
is, an escape sequence in it would reach the terminal (Rich and Textual drop some control
characters but pass ESC), and a `[` would be read as markup. One rule escapes the control
characters (the CLI's rule too): `engine.errors.safe_text`, for text drawn as text; `markup`, for a
Static or notification that reads markup, escapes the markup as well.
"""
from __future__ import annotations

from typing import Any

from engine.errors import safe_text


def markup(value: Any, limit: int | None = None, *, keep_newlines: bool = False) -> str:
    """For a Static or notification that reads markup: `[` escaped as well."""
    return safe_text(value, limit, keep_newlines=keep_newlines).replace("[", "\\[")
