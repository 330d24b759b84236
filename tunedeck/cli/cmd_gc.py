"""`tunedeck gc [--dry-run]`: remove the checkpoint files that nothing needs any more, and say why each.

What goes (engine.sweeps.retention): the `last` checkpoints of trials that cannot be resumed, the
best ones beyond a sweep's `run.keep_best`, and files in the artifacts folder that no trial's record
names. `--dry-run` prints exactly the list a real run removes.
"""
from __future__ import annotations

import argparse

from engine.states import TrialState
from engine.store import Store
from engine.sweeps.retention import Removal, apply, plan
from engine.tables.formatting import fmt_bytes, safe_text
from tunedeck.cli.storeopen import open_store, store_option


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        removals = _safe(store, plan(store))
        if not removals:
            print(f"nothing to remove: every file in {safe_text(store.artifacts)} is a checkpoint a trial still needs")
            return 0
        width = max(len(fmt_bytes(r.size)) for r in removals)
        for removal in removals:
            print(f"  {fmt_bytes(removal.size):>{width}}  {safe_text(removal.path)}  ({safe_text(removal.why)})")
        total = sum(r.size for r in removals)
        files = f"{len(removals)} file{'s' if len(removals) > 1 else ''}"
        if args.dry_run:
            print(f"{files}, {fmt_bytes(total)}: nothing removed (dry run); `tunedeck gc{store_option(args.store)}` "
                  "removes them")
            return 0
        freed = apply(store, removals)
    print(f"removed {files}: {fmt_bytes(freed)} freed")
    return 0


def _safe(store: Store, removals: list[Removal]) -> list[Removal]:
    """Leave alone an unrecorded file in the folder of a trial that runs now: it may be a checkpoint
    being written (a temporary file, or one renamed but not yet recorded)."""
    active = {str(t.id) for t in store.trials(states=(TrialState.QUEUED, TrialState.RUNNING))}
    return [r for r in removals if r.record is not None or r.path.parent.name not in active
            or r.path.parent.parent != store.artifacts]
