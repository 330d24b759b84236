"""The user's own task: `task.name = "package.module:function"`.

The function receives the validated Config and returns a TaskData. This is how people tune their
own models: read knobs from the config (model.hidden, reg.dropout, task.options, ...), build the
data and optionally the model and loss, and let tunedeck run, record and compare the trials.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.errors import TaskError
from engine.tasks.base import TaskData
from engine.tasks.plugin_checks import check_data
from engine.tasks.plugin_code import LOADED


def load_function(spec: str) -> Callable[[Config], TaskData]:
    """Import `package.module:function`, searching the working directory first as `python -m` would."""
    module_name, _, func_name = spec.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        LOADED.note_import(module_name)  # before the import: what it reads is hashed against when it began
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise TaskError(f"task.name: cannot import {module_name!r} for plugin {spec!r}: {exc} "
                        f"(working directory {cwd})") from None
    func = getattr(module, func_name, None)
    if func is None or not callable(func):
        raise TaskError(f"task.name: module {module_name!r} has no function {func_name!r} (plugin {spec!r})")
    return func


def plugin_file(spec: str) -> Path | None:
    """The file that `load_function(spec)` will import, found as the import would find it but without
    running any code (not even a package's `__init__`), so that the user is told before their code runs;
    None when it cannot be found (the import then fails with its own message) or is not a file."""
    module_name = spec.partition(":")[0]
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        file = getattr(loaded, "__file__", None)
        return Path(file) if file else None
    cwd = os.getcwd()
    search: list[str] | None = [cwd, *(p for p in sys.path if p != cwd)]
    found = None
    parts = module_name.split(".")
    try:
        for depth in range(1, len(parts) + 1):
            if search is None:
                return None
            name = ".".join(parts[:depth])
            found = importlib.machinery.PathFinder.find_spec(name, search)
            if found is None and depth == 1:  # an editable install's finder, say: finding a top level runs nothing
                found = importlib.util.find_spec(name)
            if found is None:
                return None
            locations = found.submodule_search_locations
            search = list(locations) if locations is not None else None
    except (ImportError, ValueError, OSError):
        return None
    origin = found.origin if found is not None else None
    return Path(origin) if origin and os.path.isfile(origin) else None


def import_notice(spec: str) -> str | None:
    """The line that tells the user their task's code is about to run: "importing task code from
    ./mytask.py" (relative to the working directory when under it); None when no file is found."""
    file = plugin_file(spec)
    if file is None:
        return None
    try:
        shown = f"./{file.resolve().relative_to(Path.cwd().resolve())}"
    except ValueError:
        shown = str(file)
    return f"importing task code from {shown}"


def plugin_label(spec: str) -> str:
    """The plugin as an error names it: its file, then its import path."""
    module = sys.modules.get(spec.partition(":")[0])
    file = getattr(module, "__file__", None)
    return f"{file} (plugin {spec})" if file else f"plugin {spec}"


def code_record(spec: str) -> dict[str, Any] | None:
    """The plugin's file, its sha256 and its folder's imported modules' hashes, as this process loaded them."""
    return LOADED.describe(spec.partition(":")[0])


def build(config: Config) -> TaskData:
    func = load_function(config.task.name)
    data = func(config)
    if not isinstance(data, TaskData):
        raise TaskError(f"task.name: plugin {config.task.name!r} returned {type(data).__name__}, "
                        f"expected engine.tasks.base.TaskData")
    check_data(data, plugin_label(config.task.name))
    data.info.setdefault("plugin", config.task.name)
    return data
