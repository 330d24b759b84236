"""Commands: what clients ask of the running supervisor through the store, and what happens to old ones."""
from __future__ import annotations

import pytest

from engine.states import TrialState
from engine.supervisor.launch import SupervisorError
from engine.supervisor.server import EXPIRED
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import LONG, alive, commands, supervisor_pid, toy, wait_until


def _running(supervised: Supervised, *ids: int) -> bool:
    return all(supervised.store.trial(i).state is TrialState.RUNNING for i in ids)


def test_parallel_two_runs_two_trials_at_once_and_cancel_stops_the_one_it_names(supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    first, second, third = (client.enqueue(toy(name=f"long-{i}", **LONG)) for i in range(3))
    client.set_parallel(2)  # at once, while the supervisor it just started may still be starting
    wait_until(lambda: _running(supervised, first, second), "two trials train at the same time")
    both = store.trial(first), store.trial(second)
    assert both[0].state is both[1].state is TrialState.RUNNING and both[0].env["pid"] != both[1].env["pid"]
    assert store.trial(third).state is TrialState.QUEUED and store.trial(third).started_at is None
    (parallel,) = [c for c in commands(store) if c.kind == "parallel"]
    wait_until(lambda: store.command(parallel.id).done_at is not None, "the parallel command is answered")
    assert store.command(parallel.id).result == "2 trial(s) at once"
    assert client.status().parallel == 2

    assert client.cancel(third) == f"stopping trial {third}"  # claimed, waiting in the supervisor's pool
    wait_until(lambda: store.trial(third).state.is_finished, "the waiting trial is cancelled")
    assert store.trial(third).state is TrialState.CANCELLED and store.trial(third).started_at is None

    assert client.cancel(first, "enough of this one") == f"stopping trial {first}"
    wait_until(lambda: store.trial(first).state.is_finished, "the cancelled trial ends")
    record = store.trial(first)
    assert record.state is TrialState.CANCELLED and record.reason == "enough of this one"
    assert record.epochs_run == len(store.epochs(first))  # every epoch it finished is kept
    assert store.trial(second).state is TrialState.RUNNING  # the other one goes on
    with pytest.raises(SupervisorError, match="has already ended"):
        client.cancel(first)

    client.set_parallel(1)
    fourth = client.enqueue(toy(**LONG))  # waits its turn behind the second, claimed by the supervisor
    # ... and beats with it at once, so that a reader on another host never takes it for abandoned
    wait_until(lambda: store.trial(fourth).heartbeat is not None, "the waiting trial has a heartbeat", timeout=1)
    assert store.trial(fourth).state is TrialState.QUEUED and store.trial(fourth).pid == supervisor_pid(store)

    stop = client.stop_all("the user stopped everything")
    assert stop is not None
    wait_until(lambda: store.trial(second).state.is_finished, "stop_all ends the other trial")
    for trial_id in (second, fourth):
        assert store.trial(trial_id).state is TrialState.CANCELLED
        assert store.trial(trial_id).reason == "the user stopped everything"
    assert client.wait(stop, 5) is not None and supervisor_pid(store) is not None  # it stops trials, not itself


def test_a_queued_trial_nobody_took_yet_is_cancelled_at_once_without_a_supervisor(supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    trial_id = store.create_trial(toy(), for_supervisor=True)
    assert client.cancel(trial_id, "changed my mind") == f"trial {trial_id} cancelled before it started"
    record = store.trial(trial_id)
    assert record.state is TrialState.CANCELLED and record.reason == "changed my mind"
    assert not client.running and commands(store) == []  # no supervisor was needed, or started
    with pytest.raises(SupervisorError, match="no supervisor is running"):
        client.pause_sweep(1)


def test_commands_left_while_no_supervisor_ran_are_expired_and_not_carried_out(supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    trial_id = store.create_trial(toy(), for_supervisor=True)
    stale = [store.add_command("stop_all", reason="an old stop"), store.add_command("cancel", trial_id=trial_id),
             store.add_command("parallel", parallel=3), store.add_command("shutdown")]
    client.ensure()
    wait_until(lambda: store.trial(trial_id).state.is_finished, "the queued trial ends")
    assert store.trial(trial_id).state is TrialState.COMPLETED  # neither the stop nor the cancel reached it
    for command_id in stale:
        command = store.command(command_id)
        assert command is not None and command.done_at is not None
        assert command.result is not None and command.result.startswith("expired"), command
        assert command.result == EXPIRED
    assert client.status().parallel == 1
    pid = supervisor_pid(store)
    assert pid is not None and alive(pid)  # the old shutdown did not end it either


def test_a_command_sent_while_the_new_supervisor_starts_is_carried_out(supervised: Supervised) -> None:
    """The client sees the supervisor as soon as it holds its lock; what it sends from then on is for
    that supervisor, even if it is still importing torch, and must not be expired as stale."""
    store, client = supervised.store, supervised.client
    trial_id = client.enqueue(toy(**LONG))
    pid = supervisor_pid(store)
    assert pid is not None
    shutdown = client.shutdown("shut down by the test")
    assert shutdown is not None
    answer = client.wait(shutdown, 20)
    assert answer is not None and answer.result == "shutting down", answer
    wait_until(lambda: not alive(pid), "the supervisor exits")
    assert supervisor_pid(store) is None
    record = store.trial(trial_id)
    if record.state is TrialState.QUEUED:  # shut down before it took the trial: queued for the next one
        assert record.pid is None
    else:  # it had taken it: stopped with the reason the client gave
        assert record.state is TrialState.CANCELLED and record.reason == "shut down by the test", record
