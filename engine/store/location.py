"""Where a store lives when the user does not say: one file per working directory."""
from __future__ import annotations

import os
from pathlib import Path

from engine.errors import StoreError, safe_text

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


def checked_store_path(explicit: str | None) -> Path:
    """`resolve_store_path`, refusing a store whose folder does not exist (the rule an export follows).

    Opening a store creates its file, and would create the folders above it too; a mistyped
    `--store ~/runz/x.db` would then leave a new folder tree behind instead of saying what is wrong.
    """
    path = resolve_store_path(explicit)
    folder = path.parent
    try:
        found, exists = folder.is_dir(), folder.exists()
        path.exists()  # the file's own name may be one no file can have
    except (OSError, ValueError) as exc:  # a name too long, a NUL in it
        raise StoreError(f"cannot open the store {safe_text(path, 200)}: "
                         f"{safe_text(getattr(exc, 'strerror', None) or exc, 200)}") from None
    if not found:
        what = "is not a folder" if exists else "does not exist"
        raise StoreError(f"cannot open the store {safe_text(path, 200)}: folder {safe_text(folder, 200)} {what} "
                         "(create it first, or pass another --store PATH)")
    return path
