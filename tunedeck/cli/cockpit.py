"""`tunedeck [PRESET]`: open the cockpit on a preset and a store."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

DEFAULT_PRESET = "toy2d-mlp"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunedeck", description=(
        "Open the tunedeck cockpit: edit knobs in a form, train (ctrl+r), watch the curves, sort and "
        "export the trial table. Press ? inside for every key. The headless commands are listed by "
        "`tunedeck --help`."))
    parser.add_argument("preset", nargs="?", default=DEFAULT_PRESET,
                        help=f"preset to load into the form (default {DEFAULT_PRESET})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a knob of the preset (repeatable)")
    parser.add_argument("--store", metavar="PATH", help="trial store; default $TUNEDECK_STORE, else ./tunedeck.db")
    parser.add_argument("--executor", choices=("process", "thread"), default="process",
                        help="process (default): train in a warm child process at full speed; "
                             "thread: in this process (no start-up cost, slower beside the UI)")
    parser.add_argument("--parallel", type=_at_least_one, default=1, metavar="N",
                        help="trials trained at once (default 1; + and - change it in the app)")
    return parser


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    from engine.errors import TunedeckError
    from engine.config.presets import load_preset, search_table
    from engine.store import Store, resolve_store_path

    try:
        config = load_preset(args.preset, args.overrides)
        search = search_table(args.preset)
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
