"""The engine stands alone: no UI library in it, and `tunedeck --help` does not pay for torch."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

UI_LIBRARIES = ("textual", "rich", "plotext")


def _engine_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine."))


def test_importing_every_engine_module_leaves_ui_libraries_out() -> None:
    modules = _engine_modules()
    assert len(modules) > 20  # the walk really found the package
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"    bad = [m for m in {UI_LIBRARIES!r} if m in sys.modules]\n"
        "    if bad:\n"
        "        print(name, bad); sys.exit(1)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok")


def test_no_engine_source_mentions_a_ui_import() -> None:
    root = Path(engine.__file__).parent
    for path in root.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in UI_LIBRARIES, f"{path}: {line.strip()}"


def test_help_does_not_import_torch_or_polars() -> None:
    script = (
        "import sys\n"
        "from tunedeck.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', 'torch' in sys.modules, 'polars' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "usage: tunedeck" in result.stdout
    assert "LOADED False False" in result.stdout
