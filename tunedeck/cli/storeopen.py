"""Opening the store for a command, saying where it is when it is new."""
from __future__ import annotations

import shlex
import sys

from engine.errors import safe_text
from engine.store import Store
from engine.store.location import checked_store_path


def open_store(path: str | None, *, create: bool = True) -> Store:
    """The store named by --store, $TUNEDECK_STORE or ./tunedeck.db; read-only commands do not create one,
    and none is created in a folder that does not exist. Without `create`, a store this user may read
    but not write is opened read-only, saying so once on stderr."""
    resolved = checked_store_path(path)
    if not create and not resolved.exists():
        from engine.errors import StoreError

        raise StoreError(f"{safe_text(resolved)}: no trial store here yet (run a trial first, or pass --store PATH)")
    store = Store(resolved, allow_read_only=not create)
    if store.read_only:  # listing, showing, exporting work; a command that must write says so when it tries
        print(f"tunedeck: opened read-only: {safe_text(resolved)}: {store.read_only}; trials left running by a "
              "dead process are not marked interrupted", file=sys.stderr)
    if store.created:
        print(f"tunedeck: created trial store {safe_text(resolved)}", file=sys.stderr)
    return store


def store_option(path: str | None) -> str:
    """` --store PATH` for a command line the user is told to run next, when they named the store so."""
    return f" --store {shlex.quote(path)}" if path else ""
