"""`tunedeck resume ID`: an interrupted or cancelled trial goes on from its last checkpoint, as the same trial.

In the foreground it prints `tunedeck run`'s lines (Ctrl+C cancels it again, and it can resume again);
`--detach` queues it for the store's supervisor. Without a usable checkpoint it refuses, unless
`--restart` asks to run it again from epoch 1.
"""
from __future__ import annotations

import argparse
import signal
from typing import TYPE_CHECKING

from engine.config.groups import Config
from engine.errors import TunedeckError
from engine.execution.checkpoints import CheckpointUnusable, remove_checkpoint, resume_point
from engine.execution.runner import TrialRun
from engine.states import TrialState
from engine.store import Store
from engine.store.checkpoints import CheckpointRecord
from engine.tables.formatting import safe_text
from tunedeck.cli.cmd_run import _cancel_handler, _stream, exit_status, summary_line
from tunedeck.cli.storeopen import open_store, store_option

if TYPE_CHECKING:
    from engine.training.loop import Setup


class ResumeError(TunedeckError):
    """A trial that cannot resume now: running, ended by itself, no usable checkpoint, taken meanwhile."""


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        record = store.trial(args.trial_id)
        _check_state(record.id, record.state, store_option(args.store))
        config = Config.from_dict(record.config)
        point, passed = _point(store, record.id, args.restart)
        if args.detach:
            return _detach(args, store, point, passed)
        setup = _prepare(config)
        _requeue(store, record.id, point, for_supervisor=False)
        run = TrialRun(store, config, setup=setup, trial_id=record.id)
        print(_opening(record.id, point, passed), flush=True)
        previous = signal.signal(signal.SIGINT, _cancel_handler(run.cancel))
        try:
            finished = _stream(run, config.optim.max_epochs, quiet=False)
        finally:
            signal.signal(signal.SIGINT, previous)
        print(summary_line(record.id, finished))
    return exit_status(finished.state)


def _check_state(trial_id: int, state: TrialState, flag: str) -> None:
    if state in (TrialState.RUNNING, TrialState.QUEUED):
        raise ResumeError(f"trial {trial_id} is {state.value} already: `tunedeck watch {trial_id}{flag}` follows it")
    if not state.is_lost:
        raise ResumeError(f"trial {trial_id} is {state.value}: nothing to resume (only interrupted or cancelled "
                          "trials resume)")


def _point(store: Store, trial_id: int, restart: bool) -> tuple[CheckpointRecord | None, list[str]]:
    """The checkpoint it will go on from and why newer ones are passed over; (None, why) to start over."""
    try:
        _, record, passed = resume_point(store, trial_id)
    except CheckpointUnusable as exc:
        if not restart:
            raise ResumeError(f"{exc}; `tunedeck resume {trial_id} --restart` runs it again from epoch 1") from None
        return None, []
    return (None, []) if restart else (record, passed)


def _prepare(config: Config) -> Setup | None:
    """As `tunedeck run` does: bad data or device exits 2 here, before the trial (and its checkpoints) is touched."""
    from engine.training.loop import prepare

    try:
        return prepare(config)
    except TunedeckError:
        raise
    except Exception:  # a plugin's own code raised: let the trial record it as failed, with its traceback
        return None


def _requeue(store: Store, trial_id: int, point: CheckpointRecord | None, *, for_supervisor: bool) -> None:
    if not store.requeue(trial_id, for_supervisor=for_supervisor):
        state = store.trial(trial_id).state
        raise ResumeError(f"trial {trial_id} was taken by another process at the same moment (it is {state.value} "
                          "now): see `tunedeck status`")
    if point is None:  # --restart: from epoch 1; the old run's files would only mislead
        for record in store.checkpoints(trial_id):
            remove_checkpoint(store, record)


def _opening(trial_id: int, point: CheckpointRecord | None, passed: list[str]) -> str:
    if point is None:
        return f"trial {trial_id} starts over from epoch 1 (--restart)"
    older = f"; newer ones are unusable: {'; '.join(passed)}" if passed else ""
    return f"trial {trial_id} resumes from epoch {point.epoch} (checkpoint {safe_text(point.path)}{safe_text(older)})"


def _detach(args: argparse.Namespace, store: Store, point: CheckpointRecord | None, passed: list[str]) -> int:
    from engine.supervisor.client import SupervisorClient

    _requeue(store, args.trial_id, point, for_supervisor=True)
    client = SupervisorClient(store)
    client.ensure()
    flag = store_option(args.store)
    print(f"{_opening(args.trial_id, point, passed)}, queued for the supervisor (pid {client.pid()}): follow it "
          f"with `tunedeck watch {args.trial_id}{flag}`, stop it with `tunedeck stop {args.trial_id}{flag}`")
    return 0
