"""The source files a plugin task runs, and their hashes.

A warm trainer process keeps every module it imported in `sys.modules`, so an edit to a plugin made
after it was imported would never reach that process. The trainer therefore reports the files it
has imported and the hash of each as first seen; its parent hashes those files again before it hands
the trainer the next trial and retires a trainer whose files changed (engine.execution.trainer_process).
Every trial also records the hashes of its plugin's files with its environment.

What is covered: the plugin's own file, and every `.py` module loaded from the plugin's folder (the
folder of a top-level module, or the top-level package's folder for `package.module`), subfolders
included: the plugin's siblings and helpers. Left out: installed packages (anything under the
interpreter's prefix or a site-packages folder, a virtual environment inside the project included)
and tunedeck's own packages, unless the plugin itself lives there; data files, which are never
read here. Hashing a few small source files costs well under a millisecond each.

A file is hashed when this process first looks at it, which may be a moment after it was imported.
A file written after its plugin's import began (less a second's slack for the file system's clock)
may have been read in either version; its hash is kept but not trusted, so the trainer counts as
stale and is replaced before its next trial rather than risk running old code.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import site
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLACK_NS = 1_000_000_000  # file times come from a coarser clock than time.time_ns()
_OWN_PACKAGES = ("engine", "tunedeck", "tui")


def file_sha256(path: str | os.PathLike[str]) -> str | None:
    """The file's sha256 in hex; None when it cannot be read (gone, a folder, no permission)."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def file_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A single source file as a trial records it (a launched script: engine.ownloop)."""
    return {"file": os.path.abspath(path), "sha256": file_sha256(path)}


def changed_files(recorded: dict[str, str | None]) -> list[str]:
    """The files whose content now differs from what a process recorded (an untrusted record: None)."""
    return [path for path, sha in recorded.items() if sha is None or file_sha256(path) != sha]


def plugin_root(module_name: str, origin: Path) -> Path:
    """The folder a plugin's helpers live in: its own folder, or its top-level package's."""
    depth = module_name.count(".")
    up = depth if origin.name == "__init__.py" else depth - 1
    folder = origin.parent
    for _ in range(max(up, 0)):
        folder = folder.parent
    return folder


def _library_roots() -> list[Path]:
    """Folders whose modules are libraries, not the user's plugin code."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sysconfig.get_paths().values()}
    try:
        found.update(site.getsitepackages())
        found.add(site.getusersitepackages())
    except AttributeError:  # an embedded or virtualenv-patched `site` may lack them
        pass
    ours = [_absolute(__file__).parents[2], Path(__file__).resolve().parents[2]]
    roots = {form for p in found if p for form in (_absolute(p), Path(p).resolve())}
    return sorted(roots | {top / name for top in ours for name in _OWN_PACKAGES})


@dataclass(frozen=True)
class Seen:
    sha256: str | None
    trusted: bool  # written before it could have been imported: the hash is of the code that runs


@dataclass(frozen=True)
class _Plugin:
    file: Path
    root: Path
    import_began_ns: int  # 0: it was imported before tunedeck was asked to (when is unknown)


class LoadedCode:
    """The plugin code this process has imported: one per process, as `sys.modules` is (LOADED)."""

    def __init__(self) -> None:
        self._plugins: dict[str, _Plugin] = {}
        self._seen: dict[Path, Seen] = {}
        self._lock = threading.Lock()
        self._libraries: list[Path] | None = None

    def note_import(self, module_name: str) -> None:
        """Called before importing a plugin module: where it lives and when its import began."""
        loaded = module_name in sys.modules
        if module_name in self._plugins and loaded:
            return  # imported before: the import that follows finds it in sys.modules
        began = 0 if loaded else time.time_ns()  # not loaded: imported now (again, after a failed import)
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            return  # the import that follows reports it
        if spec is None or not spec.origin or not spec.has_location:
            return
        origin = _absolute(spec.origin)
        with self._lock:
            self._plugins[module_name] = _Plugin(origin, plugin_root(module_name, origin), began)

    def seen(self) -> dict[Path, Seen]:
        """Every covered file loaded in this process, hashed the first time it is looked at."""
        with self._lock:
            plugins = list(self._plugins.values())
            if not plugins:
                return {}
            if self._libraries is None:
                self._libraries = _library_roots()
            earliest = min(p.import_began_ns for p in plugins)
            for path in self._loaded_files(plugins):
                if path not in self._seen:
                    self._seen[path] = _look_at(path, earliest)
            return dict(self._seen)

    def record(self) -> dict[str, str | None]:
        """What a trainer reports to its parent: each covered file's hash, None where not trusted."""
        return {str(path): seen.sha256 if seen.trusted else None for path, seen in self.seen().items()}

    def describe(self, module_name: str) -> dict[str, Any] | None:
        """A trial's record of its plugin's code: the plugin file, its hash, and each covered file's hash
        relative to the plugin's folder. None for a module that was never imported as a plugin."""
        seen = self.seen()
        plugin = self._plugins.get(module_name)
        if plugin is None:
            return None
        own = seen.get(plugin.file)
        files = {str(path.relative_to(plugin.root)): s.sha256 for path, s in sorted(seen.items())
                 if path.is_relative_to(plugin.root)}
        described: dict[str, Any] = {"file": str(plugin.file),
                                     "sha256": own.sha256 if own else file_sha256(plugin.file), "files": files}
        uncertain = sorted(str(path.relative_to(plugin.root)) for path, s in seen.items()
                           if not s.trusted and path.is_relative_to(plugin.root))
        if uncertain:
            described["edited_while_imported"] = uncertain
        return described

    def _loaded_files(self, plugins: list[_Plugin]) -> list[Path]:
        """Paths as the import system spelled them (absolute, symlinks kept), matched by prefix first:
        a trainer has a thousand modules loaded, nearly all of them torch's."""
        prefixes = tuple({os.path.join(str(p.root), "") for p in plugins})
        own = {str(p.file) for p in plugins}
        files: set[Path] = set()
        for module in list(sys.modules.values()):
            raw = getattr(module, "__file__", None)
            if not isinstance(raw, str) or not raw.endswith(".py") or not os.path.isabs(raw):
                continue  # imports give absolute paths; a relative one is a stand-in (torch.ops: "_ops.py")
            spelled = os.path.normpath(raw)
            if not spelled.startswith(prefixes) and spelled not in own:
                continue
            path = Path(spelled)
            if any(self._covers(p, path) for p in plugins):
                files.add(path)
        return sorted(files)

    def _covers(self, plugin: _Plugin, path: Path) -> bool:
        if path == plugin.file:
            return True
        if not path.is_relative_to(plugin.root):
            return False
        assert self._libraries is not None
        return not any(path.is_relative_to(lib) and not plugin.root.is_relative_to(lib) for lib in self._libraries)


def _absolute(path: str) -> Path:
    return Path(os.path.abspath(path))


def _look_at(path: Path, import_began_ns: int) -> Seen:
    sha = file_sha256(path)
    try:
        written = path.stat().st_mtime_ns
    except OSError:
        return Seen(sha, False)
    return Seen(sha, sha is not None and import_began_ns > 0 and written < import_began_ns - SLACK_NS)


LOADED = LoadedCode()
