"""What `tunedeck --help` and `tunedeck cockpit --help` add: the cockpit's options and every key it knows.

The keys come from the bindings themselves (tui/cockpit_keys.py, as the in-app help and the
README table do), so this list cannot drift from what the keys do. Textual is imported only when
help is printed.
"""
from __future__ import annotations

import argparse


def cockpit_options_text(cockpit: argparse.ArgumentParser) -> str:
    lines = ["cockpit options (`tunedeck [PRESET] [options]`, `tunedeck cockpit ...`):"]
    for action in cockpit._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = ", ".join(action.option_strings) or (action.metavar or action.dest)
        if action.option_strings and action.nargs != 0:
            name += f" {action.metavar or action.dest.upper()}"
        lines.append(f"  {name:<26} {action.help or ''}")
    return "\n".join(lines)


def cockpit_keys_text() -> str:
    from tui.app import TunedeckApp
    from tui.screens.help import rows

    lines = ["cockpit keys (F1 or ? inside shows them too; with a text field focused, letters type: "
             "alt+letter acts):"]
    for title, bindings in TunedeckApp.help_sections():
        lines.append(f"  {title}")
        lines += [f"    {keys:<30} {text}" for keys, text in rows(bindings)]
    return "\n".join(lines)


class HelpWithCockpit(argparse.ArgumentParser):
    """A parser whose help ends with the cockpit's options and keys (set `cockpit` once it is built)."""

    cockpit: argparse.ArgumentParser | None = None
    with_options = True

    def format_help(self) -> str:
        parts = [super().format_help().rstrip()]
        if self.cockpit is not None and self.with_options:
            parts.append(cockpit_options_text(self.cockpit))
        if self.cockpit is not None:
            parts.append(cockpit_keys_text())
        return "\n\n".join(parts) + "\n"
