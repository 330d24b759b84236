"""`tunedeck preset list|show`: the shipped presets, and any preset resolved to full TOML."""
from __future__ import annotations

import argparse

from engine.config.presets import find_preset, load_preset, shipped_dir, shipped_names, to_toml
from engine.tables.formatting import render_table


def execute(args: argparse.Namespace) -> int:
    if args.preset_command == "list":
        rows = [[name, _first_comment(name)] for name in shipped_names()]
        print(render_table(["preset", "what it is"], rows))
        print(f"\n(in {shipped_dir()}; `tunedeck preset show NAME` prints one in full)")
        return 0
    config = load_preset(args.preset, args.overrides)
    print(f"# {find_preset(args.preset)} resolved" + (" with --set " + " ".join(args.overrides) if args.overrides
                                                      else ""))
    print(to_toml(config), end="")
    return 0


def _first_comment(name: str) -> str:
    for line in (shipped_dir() / f"{name}.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
