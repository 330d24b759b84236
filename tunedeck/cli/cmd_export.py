"""`tunedeck export -o FILE`: the trial table (as listed) or the metric history, written atomically."""
from __future__ import annotations

import argparse

from engine.tables.export import export_frame, format_for
from engine.tables.formatting import safe_text
from engine.tables.frames import history_frame, select_trials, trial_frame
from tunedeck.cli.storeopen import open_store


def execute(args: argparse.Namespace) -> int:
    fmt = format_for(args.output, "markdown" if args.format == "md" else args.format)
    with open_store(args.store, create=False) as store:
        frame = select_trials(trial_frame(store.trials()), state=args.state, sort=args.sort, desc=args.desc)
        if args.history:
            ids = frame["id"].to_list()
            frame = history_frame(store.history(ids))
    path = export_frame(frame, args.output, fmt, force=args.force)
    what = "metric rows" if args.history else "trials"
    print(f"wrote {frame.height} {what} to {safe_text(path)} ({fmt})")
    return 0
