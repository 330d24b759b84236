"""`tunedeck [PRESET]` (the same as `tunedeck cockpit [PRESET]`): open the cockpit on a preset and a store.

The cockpit trains nothing in its own process: the store's supervisor (started on the first trial,
or found running) does, so closing the terminal leaves training running and reopening shows it.
"""
from __future__ import annotations

import argparse
import sys


def execute(args: argparse.Namespace) -> int:
    from engine.errors import TunedeckError
    from engine.store import Store, resolve_store_path
    from engine.supervisor.client import SupervisorClient
    from engine.sweeps.preset_search import load_preset_with_search

    try:
        config, search = load_preset_with_search(args.preset, args.overrides)
        store_path = resolve_store_path(args.store)
        store = Store(store_path)
    except TunedeckError as exc:
        print(f"tunedeck: error: {exc}", file=sys.stderr)
        return 2
    if store.created:
        print(f"tunedeck: created trial store {store_path}", file=sys.stderr)
    client = SupervisorClient(store)
    if store.unclaimed_trials() or store.unclaimed_sweeps():
        client.ensure()  # work queued while no supervisor ran (it died, or timed out idle) goes on now
    from tui.app import TunedeckApp

    app = TunedeckApp(config, store, client, parallel=args.parallel, search=search)
    try:
        app.run()
    finally:
        store.close()
    return 0
