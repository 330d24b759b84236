"""`tunedeck run PRESET`: one trial, headless, one line per epoch, Ctrl+C cancels cleanly.

`--detach` queues it for the store's supervisor instead and returns at once; `tunedeck watch`
prints its epochs in the lines defined here.
"""
from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from engine.config.groups import SCRIPT_TASK
from engine.config.presets import load_preset
from engine.errors import ConfigError
from engine.events import EpochEnded, Event, TrialFinished, TrialStarted
from engine.metric_names import summary_text
from engine.states import TrialState
from engine.store.location import checked_store_path
from engine.tables.formatting import fmt_duration, fmt_value, safe_text
from tunedeck.cli.storeopen import open_store, store_option

if TYPE_CHECKING:
    from engine.config.groups import Config
    from engine.execution.runner import TrialRun
    from engine.store import Store

EXIT_FAILED = 1
EXIT_CANCELLED = 130


def execute(args: argparse.Namespace) -> int:
    config = load_preset(args.preset, args.overrides)
    store_path = checked_store_path(args.store)  # a store in a missing folder: said now, not after the data is built
    executor = getattr(args, "executor", "process")
    if config.task.name == SCRIPT_TASK:
        if executor == "ray":
            raise ConfigError("a script trial runs as a process of its own on this machine; leave --executor out",
                              key="--executor", value=executor)
        return _detach(args, config) if args.detach else _run_script(args, config)
    if executor == "ray":
        from tunedeck.cli.on_ray import check_ray

        check_ray()  # a missing Ray or a wrong RAY_ADDRESS is said before anything is recorded
        return _detach(args, config, executor) if args.detach else _run_on_ray(args, config)
    from engine.execution.isolated import IsolatedTrial

    announce_task_code(config)
    # The trial trains in a child process (engine/execution/isolated), which imports torch and the task's
    # code: a plugin that exits or crashes fails its trial, not this command. It builds the trial first,
    # so that bad data or a bad device is refused before a trial is recorded (or queued).
    with IsolatedTrial(store_path, config) as child:
        child.prepare()
        if args.detach:
            return _detach(args, config)
        with open_store(args.store) as store:
            # child.close() after a second Ctrl+C: the trial is recorded cancelled while the store is open
            return _train_here(args, store, config, f"task {safe_text(config.task_label)}",
                               lambda trial_id, cancel, printer: child.run(store, trial_id, cancel, printer),
                               after=child.close)


def _train_here(args: argparse.Namespace, store: Store, config: Config, where: str,
                train: Callable[[int, threading.Event, _Printer], TrialFinished],
                after: Callable[[], None] | None = None) -> int:
    """Record the trial, train it with `train` (blocking) printing its epochs, Ctrl+C asking it to stop;
    then its summary line; the exit status its end calls for."""
    trial_id = store.create_trial(config)
    if not args.quiet:
        print(f"trial {trial_id}: {safe_text(config.name or config.task.name)} ({where}) -> "
              f"{safe_text(store.path)}", flush=True)
    cancel = threading.Event()
    printer = _Printer(config.optim.max_epochs, args.quiet)
    previous = signal.signal(signal.SIGINT, _cancel_handler(cancel))
    try:
        finished = train(trial_id, cancel, printer)
    finally:
        signal.signal(signal.SIGINT, previous)
        if after is not None:
            after()
    print(summary_line(trial_id, finished))
    return exit_status(finished.state)


def announce_task_code(config: Config | None) -> None:
    """Say which file of the user's is about to be imported (its top-level code runs then), on stderr."""
    from engine.tasks import is_plugin

    if config is not None and is_plugin(config.task.name):
        from engine.tasks.plugin import import_notice

        notice = import_notice(config.task.name)
        if notice:
            print(safe_text(notice, 1_000), file=sys.stderr, flush=True)


def _run_script(args: argparse.Namespace, config: Config) -> int:
    """A script task in the foreground: the script runs as a process of its own (engine/ownloop), and its
    epochs print as the loop's do; Ctrl+C asks it to stop (SIGTERM, SIGKILL after task.stop_grace)."""
    from engine.events import StopSignal
    from engine.ownloop.executor import ScriptExecutor
    from engine.ownloop.launch import command

    command(config, Path.cwd())  # a missing script or interpreter exits 2 here, before a trial is recorded
    with open_store(args.store) as store:
        trial_id = store.create_trial(config)
        if not args.quiet:
            print(f"trial {trial_id}: {safe_text(config.name or config.task.name)} (script "
                  f"{safe_text(config.task.path)}) -> {safe_text(store.path)}", flush=True)

        def show(tid: int, batch: Sequence[Event]) -> None:
            for event in batch:
                if isinstance(event, EpochEnded) and not args.quiet:
                    print(epoch_line(event, config.optim.max_epochs), flush=True)

        cancel = StopSignal()
        previous = signal.signal(signal.SIGINT, _cancel_handler(cancel))
        try:
            finished = ScriptExecutor(store=store).run(store.path, trial_id, config, cancel, show)
        finally:
            signal.signal(signal.SIGINT, previous)
        print(summary_line(trial_id, finished))
    return exit_status(finished.state)


def exit_status(state: TrialState) -> int:
    """0 completed or early-stopped (or pruned), 1 failed or diverged, 130 cancelled or interrupted."""
    if state.is_lost:
        return EXIT_CANCELLED
    return 0 if state.has_results else EXIT_FAILED


def _run_on_ray(args: argparse.Namespace, config: Config) -> int:
    """The trial on a Ray actor (the cluster RAY_ADDRESS names, else a local runtime), recorded here: this
    process is the head and the only writer of the store. Its data and plugin code must be at the same
    paths on the node that trains it (docs/cluster.md); bad data fails the trial there."""
    from tunedeck.cli.on_ray import ray_executor

    announce_task_code(config)
    with open_store(args.store) as store:
        executor = ray_executor(store.path, config.run.gpus_per_trial)
        try:
            return _train_here(args, store, config, f"task {safe_text(config.task_label)}, on Ray",
                               lambda trial_id, cancel, printer: executor.run(
                                   store.path, trial_id, config, cancel, lambda tid, batch: printer(batch)))
        finally:
            executor.shutdown()


def _detach(args: argparse.Namespace, config: Config, executor: str | None = None) -> int:
    """Queue the trial for the store's supervisor (started if none runs, with `executor`) and return at once."""
    from engine.supervisor.client import SupervisorClient

    with open_store(args.store) as store:
        client = SupervisorClient(store, executor=executor)
        trial_id = client.enqueue(config)
        pid = client.pid()
    if args.quiet:
        print(trial_id)
    else:
        store_flag = store_option(args.store)
        print(f"trial {trial_id} queued for the supervisor (pid {pid}): follow it with `tunedeck watch "
              f"{trial_id}{store_flag}`, stop it with `tunedeck stop {trial_id}{store_flag}`")
    return 0


def _cancel_handler(cancel: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after this batch (Ctrl+C again to abort at once)", file=sys.stderr, flush=True)
    return handler


class _Printer:
    """The trial's lines as its events come back: the started line, one line per epoch."""

    def __init__(self, max_epochs: int, quiet: bool) -> None:
        self.max_epochs = max_epochs
        self.quiet = quiet

    def __call__(self, batch: Sequence[Event]) -> None:
        if self.quiet:
            return
        for event in batch:
            if isinstance(event, TrialStarted):
                print(started_line(event), flush=True)
            elif isinstance(event, EpochEnded):
                print(epoch_line(event, self.max_epochs), flush=True)


def _stream(run: TrialRun, max_epochs: int, quiet: bool) -> TrialFinished:
    """A trial trained in this process (`tunedeck resume`), its lines printed as `_Printer` prints them."""
    finished = None
    printer = _Printer(max_epochs, quiet)
    for event in run:
        if isinstance(event, TrialFinished):
            finished = event
        else:
            printer([event])
    assert finished is not None  # train() always ends with a TrialFinished
    return finished


def started_line(event: TrialStarted) -> str:
    """The line under the trial's header once it runs: the problem, the device, the model, the splits."""
    threads = f"{event.threads} thread{'s' if event.threads > 1 else ''}"
    return (f"  {safe_text(event.problem)} on {safe_text(event.device)} ({threads}), {event.n_params:,} parameters, "
            f"{event.n_train}/{event.n_val}/{event.n_test} train/val/test, {event.steps_per_epoch} steps per epoch")


def epoch_line(event: EpochEnded, max_epochs: int) -> str:
    """One epoch, as `tunedeck run` and `tunedeck watch` print it (`*`: the monitored metric improved); a value
    that a script did not log (NaN) is left out."""
    values = [f"{name} {value:.4f}" for name, value in (("train_loss", event.train_loss), ("val_loss", event.val_loss),
                                                       ("val_acc", event.val_acc))
              if value is not None and math.isfinite(value)]
    lr = [f"lr {event.lr:.3g}"] if math.isfinite(event.lr) else []
    return "  ".join([f"  epoch {event.epoch:>{len(str(max_epochs))}}/{max_epochs}", *values, *lr,
                      f"{event.seconds:.2f}s"]) + ("  *" if event.improved else "")


def summary_line(trial_id: int, f: TrialFinished) -> str:
    s = f.summary
    return (f"trial {trial_id} {f.state.value}: {safe_text(f.reason)}\n"
            f"  {summary_text(s, fmt_value)}  {fmt_duration(f.seconds)}")
