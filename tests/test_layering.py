"""The layers stand as drawn: no UI library in the engine, no import cycle anywhere, a light `--help`.

The import-linter contracts in pyproject.toml (run by .ci/run) hold the package layering; these tests
hold what the contracts cannot say: no cycle between any two modules, and what `--help` loads.
"""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import grimp

import engine

UI_LIBRARIES = ("textual", "rich", "plotext")
PACKAGES = ("engine", "tui", "tunedeck")


def _engine_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine."))


def test_importing_every_engine_module_leaves_ui_libraries_out() -> None:
    modules = _engine_modules()
    assert len(modules) > 40  # the walk really found the subpackages
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


def test_no_engine_source_mentions_a_ui_or_upper_layer_import() -> None:
    root = Path(engine.__file__).parent
    for path in root.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                top = words[1].split(".")[0]
                assert top not in (*UI_LIBRARIES, "tui", "tunedeck"), f"{path}: {line.strip()}"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycle_between_any_modules() -> None:
    graph = grimp.build_graph(*PACKAGES)  # lazy imports inside functions count too
    assert len(graph.modules) > 80
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]


def _loaded_by_help(*args: str) -> str:
    script = (
        "import sys\n"
        "import tunedeck\n"
        "from tunedeck.cli.main import main\n"
        f"try:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "print('LOADED', 'torch' in sys.modules, 'polars' in sys.modules, 'textual' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "usage: tunedeck" in result.stdout
    return result.stdout


def test_help_does_not_import_torch_and_a_commands_help_not_even_the_ui() -> None:
    # The top help lists the cockpit's keys, read from its bindings: the UI's modules, never torch.
    assert "LOADED False True True" in _loaded_by_help("--help")
    assert "LOADED False False False" in _loaded_by_help("run", "--help")


def test_the_public_face_resolves_its_names_on_first_use() -> None:
    script = (
        "import sys, tunedeck\n"
        "assert 'torch' not in sys.modules\n"
        "from tunedeck import Config, TaskData, TaskError, BINARY\n"
        "print(Config.__module__, TaskData.__module__, TaskError.__module__, BINARY)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["engine.config.groups", "engine.tasks.base", "engine.errors", "binary"]
