"""`tunedeck stop ID | --sweep ID | --all`: stop what the store's supervisor runs, and say how it ended.

A queued trial that no process holds yet is cancelled in the store at once (no supervisor needed);
anything running is stopped by a command the supervisor takes within a poll, and this waits until
the store shows it ended. A trial or sweep of a foreground `tunedeck run` or sweep (or the cockpit)
is not the supervisor's to stop: the error says where it runs.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from engine.states import SweepState, TrialState
from engine.store import Store
from engine.store.recovery import SUPERVISOR
from engine.supervisor.client import SupervisorClient
from engine.supervisor.launch import SupervisorError
from engine.sweeps.sweep import SweepError
from engine.tables.formatting import safe_text
from tunedeck.cli.storeopen import open_store, store_option

EXIT_STILL_RUNNING = 1
TRIAL_WAIT_SECONDS = 10.0  # a trial stops within one batch of the supervisor's next poll
SWEEP_WAIT_SECONDS = 20.0  # a sweep waits for each of its running trials to stop
CANCELLED = "cancelled with tunedeck stop"
STOPPED = "stopped with tunedeck stop"


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        client = SupervisorClient(store)
        if args.all:
            return _stop_all(store, client)
        if args.sweep_id is not None:
            return _stop_sweep(store, client, args.sweep_id, store_option(args.store))
        return _stop_trial(store, client, args.trial_id)


def _stop_trial(store: Store, client: SupervisorClient, trial_id: int) -> int:
    # The client says, in one line, when the id is unknown, the trial has ended, it runs in a
    # foreground process, or no supervisor runs to stop it.
    done = client.cancel(trial_id, CANCELLED)
    if not _wait(lambda: store.trial(trial_id).state.is_finished, TRIAL_WAIT_SECONDS):
        print(f"{safe_text(done)}: the supervisor was asked, but trial {trial_id} is still {store.trial(trial_id).state} "
              f"after {TRIAL_WAIT_SECONDS:.0f} s (`tunedeck status` shows when it ends)")
        return EXIT_STILL_RUNNING
    record = store.trial(trial_id)
    when = (f" after {record.epochs_run} epoch{'s' if record.epochs_run != 1 else ''}" if record.started_at
            else " before it started")
    print(f"trial {trial_id} {record.state}{when}: {safe_text(record.reason)}")
    return 0


def _stop_sweep(store: Store, client: SupervisorClient, sweep_id: int, store_flag: str) -> int:
    record = store.sweep(sweep_id)  # an unknown id is a StoreError
    if not record.state.is_active:
        raise SweepError(f"sweep {sweep_id} ({safe_text(record.name)}) has already ended ({record.state}: "
                         f"{safe_text(record.reason)})")
    supervisor = client.pid()
    if record.pid is not None and record.pid != supervisor:
        raise SupervisorError(f"sweep {sweep_id} ({safe_text(record.name)}) runs in process {record.pid} (a foreground "
                              "tunedeck sweep or the cockpit): stop it there")
    if record.pid is None and supervisor is None:  # queued, and no supervisor to take it: nothing runs
        store.set_sweep_state(sweep_id, SweepState.STOPPED, STOPPED)
    else:
        if record.pid is None:  # queued a moment ago: the supervisor takes it within a poll
            _wait(lambda: store.sweep(sweep_id).pid is not None, 3.0)
        answer = client.wait(client.stop_sweep(sweep_id, STOPPED))
        if answer is not None and answer.result and answer.result.endswith("is not running here") \
                and store.sweep(sweep_id).state.is_active:
            raise SupervisorError(f"the supervisor did not stop sweep {sweep_id}: {answer.result}")
    if not _wait(lambda: not store.sweep(sweep_id).state.is_active, SWEEP_WAIT_SECONDS):
        print(f"sweep {sweep_id}: the supervisor is stopping it; its trials have not all ended after "
              f"{SWEEP_WAIT_SECONDS:.0f} s (`tunedeck status` shows when they have)")
        return EXIT_STILL_RUNNING
    record = store.sweep(sweep_id)
    print(f"sweep {sweep_id} {record.state}: {safe_text(record.reason)}")
    if record.state.can_resume:
        print(f"go on with it: tunedeck sweep --resume {sweep_id} --detach{store_flag}")
    return 0


def _stop_all(store: Store, client: SupervisorClient) -> int:
    supervisor = client.pid()
    trials = [t.id for t in store.trials(states=(TrialState.QUEUED, TrialState.RUNNING)) if t.owner == SUPERVISOR]
    sweeps = [s.id for s in store.sweeps() if s.state.is_active and (s.pid is None or s.pid == supervisor)]
    if not trials and not sweeps:
        where = "" if supervisor is not None else f" (no supervisor is running for {safe_text(store.path)})"
        print(f"nothing to stop: no trial or sweep runs or waits for the supervisor{where}")
        return 0
    command = client.stop_all(STOPPED + " --all")
    if command is not None:
        client.wait(command)
    elif sweeps:  # queued for a supervisor that is not running: nothing holds them
        for sweep_id in sweeps:
            store.set_sweep_state(sweep_id, SweepState.STOPPED, STOPPED + " --all")

    def ended() -> bool:
        return (all(store.trial(t).state.is_finished for t in trials)
                and not any(store.sweep(s).state.is_active for s in sweeps))

    if not _wait(ended, SWEEP_WAIT_SECONDS):
        print(f"the supervisor is stopping {_count(trials, 'trial')} and {_count(sweeps, 'sweep')}; not all have "
              f"ended after {SWEEP_WAIT_SECONDS:.0f} s (`tunedeck status` shows when they have)")
        return EXIT_STILL_RUNNING
    others = sum(store.trial(t).state != TrialState.CANCELLED for t in trials)
    print(f"stopped {_count(sweeps, 'sweep')} and {_count(trials, 'trial')} of the supervisor"
          + (f" ({others} of the trials ended by themselves meanwhile)" if others else ""))
    return 0


def _count(ids: list[int], what: str) -> str:
    return f"{len(ids)} {what}{'s' if len(ids) != 1 else ''}"


def _wait(done: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True
