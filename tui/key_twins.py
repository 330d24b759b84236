"""The everywhere-twin of a cockpit key, shared by the bindings (tui/cockpit_keys.py) and the footer."""
from __future__ import annotations


def alt_key(key: str) -> str | None:
    """The everywhere-twin of a single-letter key: `c` -> `alt+c`, `X` -> `alt+shift+x`; else None.

    Terminals send alt+<key> as Escape then the key, which Textual reads as `alt+...`; `+` and `-`
    do not come through every terminal that way, so those have ctrl+up / ctrl+down instead.
    """
    if len(key) != 1 or not key.isalpha():
        return None
    return f"alt+shift+{key.lower()}" if key.isupper() else f"alt+{key}"
