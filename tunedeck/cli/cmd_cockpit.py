"""`tunedeck [PRESET]` (the same as `tunedeck cockpit [PRESET]`): open the cockpit on a preset and a store."""
from __future__ import annotations

import argparse
import sys


def execute(args: argparse.Namespace) -> int:
    from engine.errors import TunedeckError
    from engine.store import Store, resolve_store_path
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
    executor = _executor(args.executor, store_path)
    from tui.app import TunedeckApp

    app = TunedeckApp(config, store, executor, parallel=args.parallel, search=search)
    try:
        app.run()
    finally:
        store.close()
    return 0


def _executor(kind: str, store_path):
    if kind == "thread":
        from engine.execution.executors import ThreadExecutor

        return ThreadExecutor()
    from engine.execution.placement import Placement
    from engine.execution.trainer_process import ProcessExecutor, prepare_multiprocessing

    prepare_multiprocessing()  # before Textual takes stderr over
    # With several GPUs each trainer process gets its own (CUDA_VISIBLE_DEVICES), round robin.
    executor = ProcessExecutor(log_path=str(store_path.with_suffix(".log")), placement=Placement.detect())
    executor.prewarm(1)  # import torch in the child while the form is on screen
    return executor
