"""`tunedeck export -o FILE`: the trial table (as listed) or the metric history, written atomically.

`tunedeck export --sweep ID --optuna FILE`: the sweep as an Optuna study in an SQLite file
(engine/sweeps/optuna_study), which `optuna.load_study` and optuna-dashboard open.
"""
from __future__ import annotations

import argparse
import shlex

from engine.errors import ExportError
from engine.tables.export import export_frame, format_for
from engine.tables.formatting import safe_text
from engine.tables.frames import history_frame, select_trials, trial_frame
from tunedeck.cli.storeopen import open_store

TABLE_ONLY = ("format", "history", "state", "sort", "desc")


def execute(args: argparse.Namespace) -> int:
    if args.optuna is not None:
        return _optuna(args)
    if args.sweep is not None:
        raise ExportError("--sweep goes with --optuna FILE (the trial table of one sweep: "
                          "`tunedeck trials --sweep ID`)")
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


def _optuna(args: argparse.Namespace) -> int:
    given = [f"--{name}" for name in TABLE_ONLY if getattr(args, name)]
    if given:
        raise ExportError(f"{', '.join(given)} apply to the trial table (-o FILE), not to --optuna")
    if args.sweep is None:
        raise ExportError("--optuna FILE needs --sweep ID: the sweep to write (`tunedeck sweeps` lists them)")
    from engine.sweeps.optuna_study import export_study

    with open_store(args.store, create=False) as store:
        done = export_study(store, args.sweep, args.optuna, force=args.force)
    left = f"; {done.left_out} running, queued or unreadable left out" if done.left_out else ""
    print(f"wrote sweep {args.sweep} as an Optuna study to {safe_text(done.path)}: {done.written} trials, "
          f"{done.completed} completed{left}")
    print(f"study name: {safe_text(done.study_name)}")
    print(f"open it: optuna-dashboard {shlex.quote(done.storage)}")
    print(f"in Python: optuna.load_study(study_name={safe_text(repr(done.study_name))}, "
          f"storage={safe_text(repr(done.storage))})")
    return 0
