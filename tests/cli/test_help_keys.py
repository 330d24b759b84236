"""`tunedeck --help` lists every cockpit option and every key, as the in-app help does (a real process)."""
from __future__ import annotations

import subprocess

from tests.cli.clirunner import BIN
from tui.app import TunedeckApp
from tui.screens.help import rows


def test_the_top_help_lists_every_cockpit_key_and_option() -> None:
    out = subprocess.run([str(BIN), "--help"], capture_output=True, text=True, timeout=60, check=True).stdout
    for option in ("PRESET", "--set KEY=VALUE", "--store PATH", "--parallel N"):
        assert f"\n  {option}" in out.split("cockpit options", 1)[1], option
    keys = out.split("cockpit keys", 1)[1]
    for _title, bindings in TunedeckApp.help_sections():
        for label, text in rows(bindings):
            assert f"    {label}" in keys and text in keys, label


def test_the_cockpit_help_ends_with_its_keys_and_other_commands_help_does_not() -> None:
    cockpit = subprocess.run([str(BIN), "cockpit", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "alt+shift+x" in cockpit and "ctrl+f" in cockpit
    run = subprocess.run([str(BIN), "run", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "cockpit keys" not in run
