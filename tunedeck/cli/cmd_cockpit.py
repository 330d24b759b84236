"""`tunedeck [PRESET]` (the same as `tunedeck cockpit [PRESET]`): open the cockpit on a preset and a store.

The cockpit trains nothing in its own process: the store's supervisor (started on the first trial,
or found running) does, so closing the terminal leaves training running and reopening shows it.
`--executor ray` starts that supervisor with Ray actors as its trainers (docs/cluster.md).
"""
from __future__ import annotations

import argparse
import sys


def execute(args: argparse.Namespace) -> int:
    from engine.errors import TunedeckError, safe_text
    from engine.store import Store
    from engine.store.location import checked_store_path
    from engine.supervisor.client import SupervisorClient
    from engine.sweeps.preset_search import load_preset_with_search
    from tunedeck.cli.main import error_line, exit_status

    executor = getattr(args, "executor", None)
    try:
        config, search = load_preset_with_search(args.preset, args.overrides)
        store_path = checked_store_path(args.store)
        if executor == "ray":
            from tunedeck.cli.on_ray import check_ray

            check_ray()  # said here, in one line, not later by a supervisor that could not start
        # A store this user may read but not write opens read-only: the cockpit shows it, training says why not.
        store = Store(store_path, allow_read_only=store_path.exists())
    except TunedeckError as exc:
        print(error_line(exc), file=sys.stderr)
        return exit_status(exc)
    if store.read_only:
        print(f"tunedeck: opened read-only: {safe_text(store_path)}: {store.read_only}", file=sys.stderr)
    if store.created:
        print(f"tunedeck: created trial store {safe_text(store_path)}", file=sys.stderr)
    # Work queued while none ran is handed to it after the first frame; --executor ray: it trains on Ray.
    client = SupervisorClient(store, executor=executor)
    from tui.app import TunedeckApp

    app = TunedeckApp(config, store, client, parallel=args.parallel, search=search)
    try:
        app.run()
    finally:
        store.close()
    return 0
