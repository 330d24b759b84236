"""`tunedeck sweep PRESET`: the preset's [search] headless; a line per finished trial, then the top k.

Ctrl+C cancels the running trials within a batch, records them cancelled and the sweep stopped;
a second Ctrl+C stops waiting for them. `--detach` queues the sweep for the store's supervisor
instead and returns at once.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError
from engine.events import TrialFinished
from engine.execution.placement import ROUND_ROBIN
from engine.metric_names import objective_name, summary_stand_in
from engine.states import SweepState
from engine.sweeps.preset_search import load_sweep
from engine.sweeps.results import config_value
from engine.sweeps.spec import label
from engine.tables.formatting import fmt_duration, fmt_value, render_table, safe_text
from tunedeck.cli.on_ray import check_ray, ray_executor
from tunedeck.cli.storeopen import open_store, store_option

if TYPE_CHECKING:
    from engine.config.groups import Config
    from engine.store import SweepRecord
    from engine.sweeps.spec import SearchSpec

EXIT_FAILED = 1
EXIT_STOPPED = 130


def execute(args: argparse.Namespace) -> int:
    if (args.preset is None) == (args.resume is None):
        raise ConfigError("give a PRESET to start a sweep, or --resume ID to go on with a stopped one", key="sweep")
    if args.resume is not None:
        changed = [o for o, v in (("--set", args.overrides), ("--trials", args.trials), ("--strategy", args.strategy),
                                  ("--seed", args.seed)) if v not in (None, [])]
        if changed:
            raise ConfigError(f"a resumed sweep goes on as it was stored; only --parallel may change, not "
                              f"{', '.join(changed)}", key="--resume", value=args.resume)
    if args.detach:
        return _detach(args)
    from engine.execution.placement import Placement
    from engine.execution.pool import TrialPool
    from engine.sweeps.sweep import Sweep
    from tunedeck.cli.cmd_run import announce_task_code

    if args.resume is not None:
        store = open_store(args.store, create=False)
        record = store.sweep(args.resume)
        placement = record.spec.get("placement", ROUND_ROBIN)
        kind = args.executor or record.spec.get("executor") or "process"
        base = _stored_base(record)
        announce_task_code(base)
    else:
        base, spec = load_sweep(args.preset, args.overrides, _settings(args))
        kind = args.executor or spec.executor
        if kind == "ray":
            check_ray()  # a missing Ray or a wrong RAY_ADDRESS is said before the store is touched
        store = open_store(args.store)
        placement = spec.placement
        announce_task_code(base)
    gpus = base.run.gpus_per_trial if base else 1.0
    executor = _executor(kind, store, Placement.detect(placement, gpus), gpus)
    pool = TrialPool(store, executor, parallel=0)  # the sweep opens a lane of `parallel` trials itself
    printer = _Printer()
    try:
        with store:
            if args.resume is not None:
                sweep = Sweep.resumed(store, args.resume, pool, parallel=args.parallel, on_trial=printer.trial,
                                      on_note=printer.note)
            else:
                sweep = Sweep(store, base, spec, pool, on_trial=printer.trial, on_note=printer.note)
            spec = sweep.spec
            printer.start(sweep)
            verb = "resumed" if args.resume is not None else "started"
            print(f"sweep {sweep.id} {verb}: {safe_text(sweep.name)}: {spec.strategy}, {spec.planned} trials "
                  f"({printer.done} done), {spec.parallel} at a time, pruner {spec.pruner}, seed {spec.seed}, "
                  f"{', '.join(f'{d} {m}' for m, d in spec.goals)} -> {safe_text(store.path)}", flush=True)
            previous = signal.signal(signal.SIGINT, _stop_handler(sweep.stop))
            try:
                state = sweep.run()
            finally:
                signal.signal(signal.SIGINT, previous)
            record = store.sweep(sweep.id)
            print(_front(store, sweep.id) if spec.multi else _top_table(store, sweep, args.top))
            print(f"sweep {sweep.id} {record.state}: {safe_text(record.reason)}")
            if record.state != SweepState.COMPLETED:
                print(f"go on with it: tunedeck sweep --resume {sweep.id}{store_option(args.store)}")
    finally:
        pool.shutdown("stopped with tunedeck sweep", wait=0)  # a second Ctrl+C stops waiting
    if state != SweepState.COMPLETED:
        return EXIT_STOPPED
    return 0 if printer.ok or sweep.values else EXIT_FAILED


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The [search] settings given on the command line (they override the preset's)."""
    return {k: v for k, v in (("trials", args.trials), ("parallel", args.parallel), ("strategy", args.strategy),
                              ("seed", args.seed)) if v is not None}


def _detach(args: argparse.Namespace) -> int:
    """Queue the sweep (or its resumption) for the store's supervisor, started if none runs; return at once."""
    if args.executor == "thread":
        raise ConfigError("a detached sweep trains in the supervisor's own processes; leave --executor out",
                          key="--executor", value=args.executor)
    from engine.supervisor.client import SupervisorClient

    if args.resume is not None:
        with open_store(args.store, create=False) as store:
            spec = resumed_spec(store.sweep(args.resume), args.parallel)
            client = SupervisorClient(store, executor=_supervisor_executor(args.executor or spec.executor))
            client.resume_sweep(args.resume, spec.to_dict() if args.parallel is not None else None)
            sweep_id, record, pid = args.resume, store.sweep(args.resume), client.pid()
        what = f"resumed by the supervisor (pid {pid}): {safe_text(record.name)}: {record.done} of {spec.planned} done"
    else:
        base, spec = load_sweep(args.preset, args.overrides, _settings(args))
        executor = _supervisor_executor(args.executor or spec.executor)
        with open_store(args.store) as store:
            client = SupervisorClient(store, executor=executor)
            sweep_id = client.start_sweep(base, spec)
            record, pid = store.sweep(sweep_id), client.pid()
        what = f"queued for the supervisor (pid {pid}): {safe_text(record.name)}: {spec.strategy}, {spec.planned} trials"
    flag = store_option(args.store)
    print(f"sweep {sweep_id} {what}, {spec.parallel} at a time; follow it with `tunedeck sweeps{flag}` or "
          f"`tunedeck status{flag}`, stop it with `tunedeck stop --sweep {sweep_id}{flag}`")
    return 0


def _supervisor_executor(kind: str) -> str | None:
    """The executor a detached sweep asks of the supervisor: ray (checked here first), else its default."""
    if kind == "ray":
        check_ray()
        return "ray"
    return None


def _stored_base(record: SweepRecord) -> Config | None:
    """A stored sweep's base config; None if it no longer reads (Sweep.resumed says why)."""
    from engine.config.groups import Config

    try:
        return Config.from_dict(record.base)
    except ConfigError:
        return None


def resumed_spec(record: SweepRecord, parallel: int | None) -> SearchSpec:
    """A stored sweep's spec as it will go on, with a new --parallel; checked here, before it is queued
    (the rules of Sweep.resumed, which reads it again where the sweep runs)."""
    from engine.sweeps.stored import resumed_spec as stored_spec

    return stored_spec(record, parallel)[1]


def _executor(kind: str, store: Any, placement: Any, gpus_per_trial: float = 1.0) -> Any:
    """The built-in trials' executor (warm processes, this thread, or Ray actors), with script trials routed
    to their own (they run here, on the head)."""
    from engine.ownloop.executor import ScriptExecutor
    from engine.ownloop.routing import ScriptRouter

    scripts = ScriptExecutor(placement=placement, store=store)
    if kind == "thread":
        from engine.execution.executors import ThreadExecutor

        return ScriptRouter(ThreadExecutor(), scripts)
    if kind == "ray":
        return ScriptRouter(ray_executor(store.path, gpus_per_trial), scripts)
    from engine.execution.trainer_process import ProcessExecutor

    return ScriptRouter(ProcessExecutor(log_path=str(store.path.with_suffix(".log")), placement=placement), scripts)


def _stop_handler(stop: Callable[[str], None]) -> Callable[[int, FrameType | None], None]:
    pressed = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if pressed[0]:
            raise KeyboardInterrupt
        pressed[0] = True
        stop("stopped by Ctrl+C")
        print("\nstopping the sweep: running trials end after their current batch "
              "(Ctrl+C again to stop waiting)", file=sys.stderr, flush=True)
    return handler


class _Printer:
    """One line per finished trial, numbered in the order they finish.

    The sweep's worker threads call `trial` at once: a lock keeps each number with its line.
    """

    def __init__(self) -> None:
        self.sweep: Any = None
        self.planned, self.keys, self.metric = 0, [], "val_loss"
        self.done = 0
        self.ok = False
        self.width = 1
        self._lock = threading.Lock()

    def start(self, sweep: Any) -> None:
        """Before the sweep runs: a resumed one counts its earlier trials."""
        self.sweep = sweep
        spec = sweep.spec
        self.planned, self.keys, self.metric = spec.planned, spec.keys(), spec.metric
        self.done = sweep.progress().done
        self.width = len(str(self.planned))

    def note(self, line: str) -> None:
        """A line of the sweep's log (a repeat skipped, a config enqueued) between the trial lines."""
        with self._lock:
            print(f"      note: {safe_text(line)}", flush=True)

    def trial(self, trial_id: int, finished: TrialFinished, updates: dict) -> None:
        with self._lock:
            self._trial(trial_id, finished, updates)

    def _trial(self, trial_id: int, finished: TrialFinished, updates: dict) -> None:
        self.done += 1
        self.ok = self.ok or (finished.state.scores)
        params = "  ".join(f"{safe_text(_short(k))}={_show(updates[k])}" for k in self.keys)
        value = self.sweep.values.get(trial_id) if self.sweep is not None else None
        direction = self.sweep.spec.direction if self.sweep is not None else "minimize"
        stand_in = summary_stand_in(self.metric, direction)
        if value is None and stand_in is not None:  # pruned or failed: how far it got
            value = getattr(finished.summary, stand_in)
        tid = f"trial {trial_id}" if trial_id >= 0 else "not run"
        line = (f"[{self.done:>{self.width}}/{self.planned}] {tid:<10} {finished.state.value:<13} "
                f"{objective_name(self.metric, direction)} {fmt_value(value):<10} {params}  "
                f"{fmt_duration(finished.seconds)}")
        if not finished.state.scores:
            line += f"\n      {safe_text(finished.reason)}"
        print(line, flush=True)


def _short(key: str) -> str:
    return key.split(".", 1)[1] if "." in key else key


def _show(value: Any) -> str:
    return fmt_value(value) if isinstance(value, float) else safe_text(label(value), 80)


def _front(store: Any, sweep_id: int) -> str:
    """A multi-objective sweep ends with its Pareto front (as `tunedeck sweeps` prints it)."""
    from engine.sweeps.results import load_results
    from tunedeck.cli.cmd_sweeps import front_table

    return front_table(load_results(store, sweep_id))


def _top_table(store: Any, sweep: Any, k: int) -> str:
    """The best k completed trials by the sweep's objective (each trial's best epoch value)."""
    spec = sweep.spec
    ranked = sorted(sweep.values.items(), key=lambda kv: kv[1], reverse=spec.direction == "maximize")[:k]
    if not ranked:
        return "no trial of this sweep completed"
    objective = objective_name(spec.metric, spec.direction)
    headers = ["trial", objective, *(_short(key) for key in spec.keys()), "state", "epochs", "time"]
    rows = []
    for trial_id, value in ranked:
        r = store.trial(trial_id)
        params = [_param(r.config, key) for key in spec.keys()]
        rows.append([trial_id, value, *params, r.state.value, r.epochs_run, fmt_duration(r.duration_s)])
    title = f"top {len(rows)} of {len(sweep.values)} by {objective}:"
    return title + "\n" + render_table(headers, rows)


def _param(config: dict, key: str) -> Any:
    value = config_value(config, key)
    return label(value) if isinstance(value, (list, tuple)) else value
