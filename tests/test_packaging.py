"""What a wheel ships: every package of the source tree is listed in pyproject.toml.

The list is written by hand (presets are mapped in as `engine.shipped_presets`), so a new package that is
not added to it works in an editable install and is missing from a real one: `engine.devices` was.
"""
from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_in_the_tree_is_in_the_wheel() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for top in ("engine", "tui", "tunedeck") for init in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
