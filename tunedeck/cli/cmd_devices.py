"""`tunedeck devices`: the box's GPUs (through NVML) with the trials running on each, its CPUs and
memory, and a Ray cluster's nodes; once, or every few seconds with --watch; --json for scripts.
With --ray and no cluster to show (unreachable, RAY_ADDRESS unset, Ray not installed) it prints the rest,
says why on stderr in one line and exits 2."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from engine.devices import Snapshot, snapshot_lines, take_snapshot
from engine.errors import ConfigError, StoreError, safe_text
from engine.store import Store
from engine.store.location import checked_store_path

MIN_WATCH = 0.5  # seconds: NVML and the store are read each time
EXIT_NO_CLUSTER = 2  # --ray without a cluster to show (once; --watch goes on and says so in its Ray line)


def execute(args: argparse.Namespace) -> int:
    if args.watch is not None and not MIN_WATCH <= args.watch <= 86_400:
        raise ConfigError(f"must be between {MIN_WATCH:g} and 86400 seconds", key="--watch", value=args.watch)
    try:
        while True:
            snap = _snapshot(args)
            _print(snap, as_json=args.json)
            if args.watch is None:
                if args.ray and snap.ray_problem:  # asked for the cluster and did not get it: the rest is shown
                    print(f"tunedeck: error: --ray: {snap.ray_problem}", file=sys.stderr)
                    return EXIT_NO_CLUSTER
                return 0
            time.sleep(args.watch)
            if not args.json:
                print()
    except KeyboardInterrupt:  # the way to end --watch
        return 0


def _snapshot(args: argparse.Namespace) -> Snapshot:
    with _store(args.store) as (store, problem):
        return take_snapshot(store, connect_ray=args.ray, store_problem=problem)


@contextmanager
def _store(path: str | None) -> Iterator[tuple[Store | None, str | None]]:
    """The store's running trials are shown when there is a store; the devices are shown either way."""
    resolved = checked_store_path(path)
    if not resolved.exists():
        yield None, f"no trial store at {safe_text(resolved)}"
        return
    try:
        store = Store(resolved, allow_read_only=True)
    except StoreError as exc:
        yield None, str(exc)
        return
    with store:
        yield store, None


def _print(snap: Snapshot, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(snap.to_dict()), flush=True)
    else:
        print("\n".join(snapshot_lines(snap)), flush=True)
