"""Which files count as a plugin's code, and when a hash taken of them can be trusted to be the code
that runs (engine.tasks.plugin_code). In this process, with throwaway modules; the trainer processes
that act on it are tested in tests/engine/execution/test_fresh_code.py."""
from __future__ import annotations

import hashlib
import importlib
import os
import sys
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.tasks.plugin_code import LoadedCode, changed_files, plugin_root

OLD = time.time() - 3600  # a file written an hour ago was certainly read as it is now


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A plugin folder on sys.path with a unique module prefix; its modules leave sys.modules after."""
    prefix = f"pc_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, prefix
    for name in [n for n in sys.modules if n.startswith(prefix)]:
        del sys.modules[name]


def write(path: Path, text: str, when: float = OLD) -> Path:
    path.write_text(text)
    os.utime(path, (when, when))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(code: LoadedCode, name: str) -> None:
    code.note_import(name)
    importlib.import_module(name)


def test_the_plugin_and_the_siblings_it_imports_are_covered_not_libraries(
        folder: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    root, p = folder
    monkeypatch.chdir(root)
    standin = types.ModuleType(f"{p}_standin")  # as torch.ops is: a module object named "_ops.py", no file of it
    standin.__file__ = f"{p}_standin.py"
    write(root / f"{p}_standin.py", "")
    monkeypatch.setitem(sys.modules, f"{p}_standin", standin)
    plugin = write(root / f"{p}_task.py", f"import json, torch\nimport {p}_helper\nimport engine.tasks.toy2d\n")
    helper = write(root / f"{p}_helper.py", "SCALE = 2\n")
    write(root / f"{p}_unused.py", "NEVER = 'imported'\n")
    code = LoadedCode()
    load(code, f"{p}_task")
    assert code.record() == {str(helper): sha(helper), str(plugin): sha(plugin)}
    described = code.describe(f"{p}_task")
    assert described == {"file": str(plugin), "sha256": sha(plugin),
                         "files": {f"{p}_helper.py": sha(helper), f"{p}_task.py": sha(plugin)}}


def test_an_edit_after_the_hash_shows_as_a_changed_file(folder: tuple[Path, str]) -> None:
    root, p = folder
    write(root / f"{p}_task.py", f"import {p}_helper\n")
    helper = write(root / f"{p}_helper.py", "SCALE = 2\n")
    code = LoadedCode()
    load(code, f"{p}_task")
    record = code.record()
    assert changed_files(record) == []
    write(helper, "SCALE = 3\n")
    assert changed_files(record) == [str(helper)]
    helper.unlink()
    assert changed_files(record) == [str(helper)]


def test_a_file_written_while_it_may_have_been_imported_is_not_trusted(folder: tuple[Path, str]) -> None:
    root, p = folder
    plugin = write(root / f"{p}_task.py", "X = 1\n", when=time.time())  # just now: which version was read?
    code = LoadedCode()
    load(code, f"{p}_task")
    assert code.record() == {str(plugin): None}  # None: its trainer is retired rather than trusted
    described = code.describe(f"{p}_task")
    assert described is not None and described["sha256"] == sha(plugin)
    assert described["edited_while_imported"] == [f"{p}_task.py"]


def test_a_module_imported_before_tunedeck_looked_is_not_trusted(folder: tuple[Path, str]) -> None:
    root, p = folder
    plugin = write(root / f"{p}_task.py", "X = 1\n")
    importlib.import_module(f"{p}_task")  # someone imported it first: when, and which version, is unknown
    code = LoadedCode()
    load(code, f"{p}_task")
    assert code.record() == {str(plugin): None}


def test_the_plugin_folder_is_the_top_level_packages() -> None:
    assert plugin_root("task", Path("/w/task.py")) == Path("/w")
    assert plugin_root("pkg", Path("/w/pkg/__init__.py")) == Path("/w/pkg")
    assert plugin_root("pkg.task", Path("/w/pkg/task.py")) == Path("/w/pkg")
    assert plugin_root("pkg.sub.task", Path("/w/pkg/sub/task.py")) == Path("/w/pkg")
    assert plugin_root("pkg.sub", Path("/w/pkg/sub/__init__.py")) == Path("/w/pkg")


def test_a_package_plugin_covers_its_package_and_nothing_beside_it(folder: tuple[Path, str]) -> None:
    root, p = folder
    package = root / p
    package.mkdir()
    init = write(package / "__init__.py", "")
    task = write(package / "task.py", f"from {p} import models\nimport {p}_outside\n")
    models = write(package / "models.py", "WIDTH = 8\n")
    write(root / f"{p}_outside.py", "Y = 0\n")  # beside the package, not in it
    code = LoadedCode()
    load(code, f"{p}.task")
    assert code.record() == {str(init): sha(init), str(models): sha(models), str(task): sha(task)}


def test_a_virtual_environment_inside_the_plugin_folder_is_left_out(
        folder: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    root, p = folder
    site_packages = root / ".venv" / "lib" / "site-packages"
    site_packages.mkdir(parents=True)
    write(site_packages / f"{p}_library.py", "VERSION = '1.0'\n")
    monkeypatch.syspath_prepend(str(site_packages))
    monkeypatch.setattr(sys, "prefix", str(root / ".venv"))  # the project's own venv, as with `uv venv`
    plugin = write(root / f"{p}_task.py", f"import {p}_library\n")
    code = LoadedCode()
    load(code, f"{p}_task")
    assert code.record() == {str(plugin): sha(plugin)}
