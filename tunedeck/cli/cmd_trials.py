"""`tunedeck trials`: the trial table, sorted and filtered like the TUI's."""
from __future__ import annotations

import argparse

from engine.config.knobs import suggest
from engine.errors import ConfigError
from engine.events import SUMMARY_COLUMNS
from engine.tables.formatting import render_table
from engine.tables.frames import select_trials, trial_frame, varying_columns
from tunedeck.cli.storeopen import open_store

LEAD = ["id", "name", "state", "task"]
METRICS = [*(name for name in SUMMARY_COLUMNS if name != "steps"), "duration_s"]


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        if args.sweep is not None:
            store.sweep(args.sweep)  # an unknown sweep id is a clear error, not an empty table
        frame = trial_frame(store.trials(sweep_id=args.sweep))
    shown = select_trials(frame, state=args.state, sort=args.sort, desc=args.desc, limit=args.limit)
    if args.columns:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
        for column in columns:
            if column not in frame.columns:
                raise ConfigError("unknown column" + suggest(column, frame.columns), key="--columns", value=column)
    else:
        columns = LEAD + varying_columns(shown) + METRICS
    if shown.height == 0:
        print("no trials" + (" in state " + ", ".join(args.state) if args.state else ""))
        return 0
    print(render_table(columns, shown.select(columns).rows()))
    return 0
