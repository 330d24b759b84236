"""`tunedeck lr-find PRESET`: the learning-rate range test (engine/training/lr_probe), headless.

Prints one summary line (the suggestion, the lowest loss, how the ramp ended) and a plot of the
loss against the rate on a log axis, sized to the terminal (plain characters when the output is
not a terminal). Nothing is stored.
"""
from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from engine.config.presets import load_preset
from engine.errors import TunedeckError
from engine.tables.formatting import safe_text
from tunedeck.cli.cmd_run import announce_task_code

if TYPE_CHECKING:
    from engine.training.lr_probe import LrFinding

EXIT_NO_SUGGESTION = 1
EXIT_INTERRUPTED = 130
PLOT_HEIGHT = 24
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def execute(args: argparse.Namespace) -> int:
    from engine.training.lr_probe import ProbeSettings, describe, run_probe

    config = load_preset(args.preset, args.overrides)
    given = {key: getattr(args, key) for key in ("start", "end", "steps") if getattr(args, key) is not None}
    settings = ProbeSettings(**given)  # the rest as the engine defaults them
    announce_task_code(config)
    if sys.stderr.isatty():  # a word while the data is built and the ramp runs; a log or a pipe gets the result only
        print(f"probing {safe_text(config.name or config.task.name)} (task {safe_text(config.task_label)}): "
              f"{settings.steps} steps, lr {settings.start:g} to {settings.end:g}", file=sys.stderr, flush=True)
    cancel = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        cancel.set()

    previous = signal.signal(signal.SIGINT, stop)
    try:
        finding = run_probe(config, settings, cancel)
    except TunedeckError:
        if not cancel.is_set():
            raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if cancel.is_set():  # Ctrl+C: the ramp stopped at its next step; a part of a ramp suggests nothing
        print("tunedeck: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.no_plot:
        print(_plot(finding))
    print(describe(finding))
    return 0 if finding.suggested is not None else EXIT_NO_SUGGESTION


def _plot(finding: LrFinding) -> str:
    from tui.plotting.lr_chart import build_lr_chart

    size = shutil.get_terminal_size((100, PLOT_HEIGHT))
    chart = build_lr_chart(finding, min(size.columns, 160), PLOT_HEIGHT)
    text = chart.text if chart.text is not None else f"{chart.title}: {chart.hint}"
    return text if sys.stdout.isatty() else _ANSI.sub("", text)
