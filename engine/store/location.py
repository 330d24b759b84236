"""Where a store lives when the user does not say: one file per working directory."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_NAME = "tunedeck.db"
ENV_VAR = "TUNEDECK_STORE"


def resolve_store_path(explicit: str | None) -> Path:
    """An explicit path, else $TUNEDECK_STORE, else ./tunedeck.db.

    The working directory is the default so that each project keeps its own trials.
    """
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    return Path.cwd() / DEFAULT_NAME
