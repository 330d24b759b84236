"""`tunedeck watch ID`: a trial's epochs in the lines `tunedeck run` prints, whichever process trains it.

It prints what the store holds, then follows it: each poll asks SQLite whether anyone committed
(`PRAGMA data_version`, no disk read) and only then reads the metric rows added since the last one
seen and the trial's own row. A trial whose process died without saying so is recorded
`interrupted` by opening the store once more (its recovery), as any later reader would record it.
"""
from __future__ import annotations

import argparse
import math
import socket
import sys
import time
from typing import Any

from engine.events import EpochEnded, Summary, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.store import Store, TrialRecord
from engine.store.liveness import STALE_SECONDS, process_alive
from engine.store.recovery import SUPERVISOR
from engine.store.schema import EPOCH_METRICS
from engine.sweeps.results import config_value
from engine.tables.formatting import safe_text
from tunedeck.cli.cmd_run import epoch_line, exit_status, started_line, summary_line
from tunedeck.cli.storeopen import open_store, store_option

POLL_SECONDS = 0.25
LIVENESS_SECONDS = 2.0  # how often a trial that shows no change is checked for a dead process
BATCH = 10_000  # metric rows read at once


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        follower = Follower(store, args.trial_id, quiet=args.quiet)
        try:
            record = follower.follow()
        except KeyboardInterrupt:
            record = follower.record
            stop = (f" (`tunedeck stop {record.id}{store_option(args.store)}` stops it)"
                    if record.owner == SUPERVISOR else "")
            print(f"\nstopped watching; trial {record.id} goes on{stop}", file=sys.stderr, flush=True)
            return 0
    print(summary_line(record.id, finished_event(record)))
    return exit_status(record.state)


def finished_event(record: TrialRecord) -> TrialFinished:
    """A stored trial's end as the TrialFinished its loop yielded (what `run`'s summary line prints)."""
    seconds = record.duration_s
    if seconds is None and record.started_at is not None and record.finished_at is not None:
        seconds = record.finished_at - record.started_at  # ended from outside (its process died, say)
    return TrialFinished(record.state, record.reason or "", Summary.of(record), max(0.0, seconds or 0.0),
                         record.error)


class Follower:
    """Prints one trial's lines from the store as they are committed; `follow` returns once it ended."""

    def __init__(self, store: Store, trial_id: int, *, quiet: bool = False) -> None:
        self.store = store
        self.quiet = quiet
        self.version = store.data_version()  # first: every commit from here on is noticed
        self.rowid = store.last_metric_row()  # before the stored epochs are read, so none is missed
        self.record = store.trial(trial_id)  # an unknown id is a StoreError
        config = self.record.config
        self.max_epochs = int(config_value(config, "optim.max_epochs") or 0)
        self.monitor = config_value(config, "early_stop.monitor") or "val_loss"
        self.min_delta = float(config_value(config, "early_stop.min_delta") or 0.0)
        self.best: float | None = None
        self.shown = 0  # the last epoch printed
        self.started = False

    def follow(self) -> TrialRecord:
        r = self.record
        self._say(f"trial {r.id}: {safe_text(r.name)} (task {safe_text(r.task)}) -> {safe_text(self.store.path)}")
        if r.state == TrialState.QUEUED:
            self._say("  queued for the supervisor: waiting for it to start" if r.owner == SUPERVISOR
                      else f"  queued in process {r.pid}: waiting for it to start")
        self._show_started()
        for epoch in self.store.epochs(r.id):
            self._epoch(epoch)
        checked = time.monotonic()
        while not self.record.state.is_finished:
            time.sleep(POLL_SECONDS)
            version = self.store.data_version()
            if version != self.version:
                self.version = version
                self.record = self.store.trial(r.id)
                self._show_started()
                self._new_epochs()  # after the row: a trial that ended has committed all its epochs
                checked = time.monotonic()
            elif time.monotonic() - checked >= LIVENESS_SECONDS:
                checked = time.monotonic()
                if self._orphaned():
                    Store(self.store.path).close()  # opening it records the dead process's trial
        return self.record

    def _say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def _show_started(self) -> None:
        if self.started:
            return
        event = started_event(self.record)
        if event is not None:
            self.started = True
            self._say(started_line(event))

    def _new_epochs(self) -> None:
        pending: dict[int, dict[str, Any]] = {}
        while True:
            rows, self.rowid = self.store.metrics_since(self.rowid, BATCH)
            for trial_id, epoch, step, metric, value in rows:
                if trial_id == self.record.id and metric in EPOCH_METRICS and epoch > self.shown:
                    pending.setdefault(epoch, {"epoch": epoch, "step": step})[metric] = value
            if len(rows) < BATCH:  # each epoch is one commit, and the last read saw its whole commit
                break
        for epoch in sorted(pending):
            self._epoch(pending[epoch])

    def _epoch(self, values: dict[str, Any]) -> None:
        epoch = int(values["epoch"])
        if epoch <= self.shown:
            return
        self.shown = epoch
        val_loss, val_acc = _number(values.get("val_loss")), values.get("val_acc")
        # The loop's own rule for `improved` (engine.training.loop._note_epoch): the store keeps the
        # epochs' values, not the mark.
        score = val_loss if self.monitor == "val_loss" or val_acc is None else -val_acc
        improved = self.best is None or score < self.best - self.min_delta
        if improved:
            self.best = score
        self._say(epoch_line(EpochEnded(epoch, int(values.get("step") or 0), _number(values.get("train_loss")),
                                        val_loss, val_acc, _number(values.get("lr")),
                                        _number(values.get("epoch_seconds")), improved), self.max_epochs))

    def _orphaned(self) -> bool:
        """The trial's row names a process that is gone (judged as the store's recovery judges it)."""
        r = self.record
        if r.pid is None or r.state.is_finished:
            return False
        if r.hostname == socket.gethostname():
            return not process_alive(r.pid, r.proc_start)
        last = max((t for t in (r.heartbeat, r.started_at, r.created_at) if t is not None), default=None)
        return last is None or time.time() - last > STALE_SECONDS


def started_event(record: TrialRecord) -> TrialStarted | None:
    """The TrialStarted a stored trial began with (None before it started, or from a store that lacks it)."""
    info = record.run_info
    if record.problem is None or record.n_params is None:
        return None
    try:
        return TrialStarted(record.device or "?", int(record.n_params), int(info["n_train"]), int(info["n_val"]),
                            int(info["n_test"]), int(info["steps_per_epoch"]), record.problem,
                            int(info["threads"]), dict(info.get("info") or {}))
    except (KeyError, TypeError, ValueError):
        return None


def _number(value: Any) -> float:
    return float(value) if value is not None else math.nan
