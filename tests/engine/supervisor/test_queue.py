"""Queued trials run under the store's detached supervisor: every one, each exactly once."""
from __future__ import annotations

import threading

from engine.states import TrialState
from engine.store import Store
from engine.store.schema import EPOCH_METRICS
from engine.supervisor.client import SupervisorClient
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import (
    alive,
    duplicate_metric_rows,
    supervisor_pid,
    toy,
    trainer_pid,
    wait_until,
)


def test_queued_trials_all_run_to_the_end_with_every_epoch_stored(supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    assert not client.running
    ids = [client.enqueue(toy(name=f"queued-{i}", **{"optim.lr": 0.01 * (i + 1)})) for i in range(3)]
    pid = supervisor_pid(store)
    assert pid is not None and alive(pid)
    assert [t.id for t in store.trials()] == ids  # stored at once, whether or not the supervisor took them yet
    wait_until(lambda: all(store.trial(i).state.is_finished for i in ids), "the three trials end")
    for trial_id in ids:
        record = store.trial(trial_id)
        assert record.state is TrialState.COMPLETED, record.reason
        assert record.owner == "supervisor" and record.epochs_run == 2
        assert [e["epoch"] for e in store.epochs(trial_id)] == [1, 2]
        assert all(e[m] is not None for e in store.epochs(trial_id) for m in ("train_loss", "val_loss"))
        assert trainer_pid(store, trial_id) not in (pid, 0)  # trained in a child of the supervisor
    assert [store.trial(i).name for i in ids] == ["queued-0", "queued-1", "queued-2"]
    assert store.trial(ids[0]).started_at <= store.trial(ids[1]).started_at <= store.trial(ids[2]).started_at
    assert supervisor_pid(store) == pid  # the same supervisor ran all three, and it is still there
    assert duplicate_metric_rows(store) == []


def test_two_clients_queueing_twenty_trials_each_get_forty_trials_run_exactly_once(supervised: Supervised) -> None:
    store = supervised.store
    barrier = threading.Barrier(2)
    queued: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def client_thread(name: str) -> None:
        try:
            with Store(store.path) as own:  # a connection of its own, as another process would have
                client = SupervisorClient(own)
                barrier.wait(10)
                queued[name] = [client.enqueue(toy(name=f"{name}-{i}", **{"optim.max_epochs": 1 + i % 2}))
                                for i in range(20)]
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=client_thread, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    ids = queued["a"] + queued["b"]
    assert len(ids) == len(set(ids)) == 40
    wait_until(lambda: all(t.state.is_finished for t in store.trials()), "all forty trials end", timeout=120)
    trials = {t.id: t for t in store.trials()}
    assert sorted(trials) == sorted(ids)  # no trial was stored twice
    for trial_id in ids:
        record = trials[trial_id]
        wanted = 1 + int(record.name.rsplit("-", 1)[1]) % 2
        assert record.state is TrialState.COMPLETED, (trial_id, record.reason)
        assert record.epochs_run == wanted, (trial_id, record.epochs_run)
        assert [e["epoch"] for e in store.epochs(trial_id)] == list(range(1, wanted + 1))
    assert duplicate_metric_rows(store) == []
    epoch_rows = [row for row in store.history() if row[3] in EPOCH_METRICS and row[3] == "val_loss"]
    assert len(epoch_rows) == sum(t.epochs_run for t in trials.values())  # one val_loss per epoch run
    row = store.supervisor_row()
    assert row is not None and row.pid == supervisor_pid(store)  # one supervisor ran them all
