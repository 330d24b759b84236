"""`tunedeck preset list|show`: the shipped presets, and any preset resolved to full TOML."""
from __future__ import annotations

import argparse

from engine.config.presets import shipped_dir, shipped_names, to_toml
from engine.sweeps.preset_search import load_preset_and_search, search_toml
from engine.tables.formatting import render_table, safe_text


def execute(args: argparse.Namespace) -> int:
    if args.preset_command == "list":
        rows = [[name, _first_comment(name)] for name in shipped_names()]
        print(render_table(["preset", "what it is"], rows))
        print(f"\n(in {safe_text(shipped_dir())}; `tunedeck preset show NAME` prints one in full)")
        return 0
    # The [search] table is checked as `tunedeck sweep` checks it and printed with its settings filled in,
    # so what this prints is a preset that `tunedeck sweep` takes as it is.
    resolved, search = load_preset_and_search(args.preset, args.overrides)
    with_set = " with --set " + " ".join(args.overrides) if args.overrides else ""
    print(safe_text(f"# {resolved.path} resolved{with_set}", 1_000))
    text = to_toml(resolved.config) + ("\n" + search_toml(search.to_dict()) if search is not None else "")
    print(safe_text(text, keep_newlines=True), end="")  # escapes stay inside TOML strings: it reads back the same
    return 0


def _first_comment(name: str) -> str:
    for line in (shipped_dir() / f"{name}.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
