"""Facts about the machine a trial ran on, stored with it so that a result can be reproduced."""
from __future__ import annotations

import os
import platform
import socket
from importlib import metadata
from typing import Any


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def environment(device: str) -> dict[str, Any]:
    """The versions and host behind a trial: a curve that changes is often a torch that did.

    torch is imported here, not at module level, so that the UI starts without paying for it.
    """
    try:
        import torch

        torch_version: str | None = str(torch.__version__)
    except ImportError:
        torch_version = None
    return {
        "tunedeck": _version("tunedeck"),
        "torch": torch_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "device": device,
        "pid": os.getpid(),
    }
