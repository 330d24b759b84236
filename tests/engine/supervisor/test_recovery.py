"""Recovery on open: rows of another host go by their heartbeat, and a dead supervisor's queue is kept."""
from __future__ import annotations

import os
import socket
import time

from engine.states import SweepState, TrialState
from engine.store import Store
from engine.store.liveness import STALE_SECONDS
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import reopened, set_rows, toy, wait_until

ELSEWHERE = "gpu-node-7"  # another machine sharing the store (its pids mean nothing here)
REMOTE_PID = 4242


def _remote(store: Store, table: str, row_id: int, heartbeat: float | None, **values: object) -> None:
    set_rows(store, table, row_id, pid=REMOTE_PID, proc_start="123456", hostname=ELSEWHERE, heartbeat=heartbeat,
             created_at=time.time() - 3600, **values)


def test_rows_of_another_host_are_interrupted_only_once_their_heartbeat_is_old(store: Store) -> None:
    now = time.time()
    old, recent = now - STALE_SECONDS - 30, now - 5
    stale_trial, live_trial, stale_queued, never_beat = (store.create_trial(toy()) for _ in range(4))
    _remote(store, "trials", stale_trial, old, state="running", started_at=now - 600, epochs_run=3)
    _remote(store, "trials", live_trial, recent, state="running", started_at=now - 600, epochs_run=5)
    _remote(store, "trials", stale_queued, None)  # queued by a foreground run over there, an hour ago
    _remote(store, "trials", never_beat, None, state="running", started_at=now - 600)
    stale_sweep = store.create_sweep("old-sweep", {}, {}, 4)
    live_sweep = store.create_sweep("live-sweep", {}, {}, 4)
    paused_sweep = store.create_sweep("paused-sweep", {}, {}, 4)
    _remote(store, "sweeps", stale_sweep, old)
    _remote(store, "sweeps", live_sweep, recent)
    _remote(store, "sweeps", paused_sweep, old, state="paused")

    with reopened(store) as fresh:
        trial = fresh.trial(stale_trial)
        assert trial.state is TrialState.INTERRUPTED and trial.finished_at is not None
        assert trial.reason is not None and ELSEWHERE in trial.reason and f"process {REMOTE_PID}" in trial.reason
        assert "no heartbeat for" in trial.reason and "last committed epoch 3" in trial.reason
        assert fresh.trial(live_trial).state is TrialState.RUNNING and fresh.trial(live_trial).reason is None
        queued = fresh.trial(stale_queued)
        assert queued.state is TrialState.INTERRUPTED and queued.reason is not None
        assert ELSEWHERE in queued.reason and "before the trial started" in queued.reason
        assert fresh.trial(never_beat).state is TrialState.INTERRUPTED  # started 10 min ago, never beat since

        sweep = fresh.sweep(stale_sweep)
        assert sweep.state is SweepState.INTERRUPTED and sweep.reason is not None and ELSEWHERE in sweep.reason
        assert fresh.sweep(live_sweep).state is SweepState.RUNNING
        assert fresh.sweep(paused_sweep).state is SweepState.INTERRUPTED

    # the live ones stay so on every open while they beat, and go once they stop beating
    set_rows(store, "trials", live_trial, heartbeat=time.time() - STALE_SECONDS - 1)
    set_rows(store, "sweeps", live_sweep, heartbeat=time.time() - 1)
    with reopened(store) as again:
        assert again.trial(live_trial).state is TrialState.INTERRUPTED
        assert again.sweep(live_sweep).state is SweepState.RUNNING


def test_a_row_of_this_host_goes_by_its_process_whatever_its_heartbeat(store: Store) -> None:
    here = socket.gethostname()
    mine, reused = store.create_trial(toy()), store.create_trial(toy())
    set_rows(store, "trials", mine, state="running", started_at=time.time() - 3600, heartbeat=time.time() - 3600)
    set_rows(store, "trials", reused, state="running", proc_start="not-its-start-time", hostname=here,
             heartbeat=time.time())
    with reopened(store) as fresh:
        assert fresh.trial(mine).state is TrialState.RUNNING  # this very process holds it: alive, however old
        record = fresh.trial(reused)
        assert record.state is TrialState.INTERRUPTED and f"process {os.getpid()} on {here}" in (record.reason or "")


def test_a_queued_trial_claimed_by_a_dead_supervisor_goes_back_to_the_queue_and_runs(
        supervised: Supervised) -> None:
    store = supervised.store
    trial_id = store.create_trial(toy(**{"optim.max_epochs": 1}), for_supervisor=True)
    # claimed by a supervisor that died before starting it (our pid with another start time: a reused pid)
    set_rows(store, "trials", trial_id, pid=os.getpid(), proc_start="not-its-start-time",
             hostname=socket.gethostname())
    assert store.unclaimed_trials() == []
    with reopened(store) as fresh:
        record = fresh.trial(trial_id)
        assert record.state is TrialState.QUEUED and record.pid is None and record.reason is None
        assert [t.id for t in fresh.unclaimed_trials()] == [trial_id]
    # and one claimed on another host by a supervisor that stopped beating an hour ago, too
    other = store.create_trial(toy(**{"optim.max_epochs": 1}), for_supervisor=True)
    _remote(store, "trials", other, None)
    supervised.client.ensure()
    wait_until(lambda: store.trial(trial_id).state.is_finished and store.trial(other).state.is_finished,
               "the new supervisor runs both")
    for tid in (trial_id, other):
        record = store.trial(tid)
        assert record.state is TrialState.COMPLETED and record.epochs_run == 1, record
        assert record.hostname == socket.gethostname() and record.pid != os.getpid()


def test_a_trial_waiting_in_a_live_supervisors_queue_on_another_host_is_not_taken_back(store: Store) -> None:
    """A supervisor on another machine (sharing the store) has claimed a trial that waits its turn
    behind a long one; while the supervisor beats, no reader here may hand that trial out again."""
    with Store(store.path) as remote:
        remote._hostname = ELSEWHERE  # the one thing faked: the other machine
        waiting = remote.create_trial(toy(), for_supervisor=True)
        assert remote.claim_trial(waiting)
        set_rows(store, "trials", waiting, created_at=time.time() - 3600)  # queued an hour ago
        remote.register_supervisor(None)
        remote.beat_supervisor([])
    with reopened(store) as fresh:
        record = fresh.trial(waiting)
        assert record.state is TrialState.QUEUED and record.pid == os.getpid() and record.hostname == ELSEWHERE
        assert fresh.unclaimed_trials() == []
    set_rows(store, "trials", waiting, heartbeat=time.time() - STALE_SECONDS - 1)  # its supervisor stopped beating
    with reopened(store) as later:
        assert [t.id for t in later.unclaimed_trials()] == [waiting]


def test_a_queued_trial_of_a_dead_supervisors_sweep_is_interrupted_not_run_as_a_trial_of_its_own(
        supervised: Supervised) -> None:
    """A sweep stores each trial just before handing it to the pool; killed in between, the supervisor
    leaves it queued. It belongs to the sweep (a resume runs that point again), so the next supervisor
    must not take it for a trial queued by hand and run it outside its sweep."""
    store = supervised.store
    with Store(store.path, owner="supervisor") as held:  # what the supervisor's own connection writes
        sweep_id = held.create_sweep("grid", {}, {}, 3)
        orphan = held.create_trial(toy(**{"optim.max_epochs": 1}), sweep_id=sweep_id)
    set_rows(store, "trials", orphan, proc_start="not-its-start-time")  # its supervisor is gone
    set_rows(store, "sweeps", sweep_id, proc_start="not-its-start-time")
    queued = store.create_trial(toy(**{"optim.max_epochs": 1}), for_supervisor=True)
    with reopened(store) as fresh:
        record = fresh.trial(orphan)
        assert record.state is TrialState.INTERRUPTED and "before the trial started" in (record.reason or "")
        assert fresh.sweep(sweep_id).state is SweepState.INTERRUPTED
        assert [t.id for t in fresh.unclaimed_trials()] == [queued]
    supervised.client.ensure()
    wait_until(lambda: store.trial(queued).state.is_finished, "the trial queued by hand runs")
    assert store.trial(queued).state is TrialState.COMPLETED
    assert store.trial(orphan).state is TrialState.INTERRUPTED and store.trial(orphan).started_at is None
