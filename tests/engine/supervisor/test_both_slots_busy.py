"""Both slots busy: at parallel 2 the supervisor keeps two trainers training whenever two trials wait, and no
trial waits for a trainer that is still starting while another one comes free.

Each test starts from what the cockpit finds: a supervisor whose one trainer is warm (a first trial ran)
and whose second is not started yet. Its trials train until cancelled, so the test decides when a slot
frees; every assertion is an order of the start and end times the store recorded, never a duration.
"""
from __future__ import annotations

import math

from engine.states import TrialState
from engine.store import TrialRecord
from engine.sweeps.spec import parse_search
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import LONG, toy, trainer_pid, wait_until

STARTING = 180.0  # deadline for a trainer to start on a loaded box (import torch); never reached unless broken


def _warm_supervisor(supervised: Supervised) -> int:
    """Start the supervisor and let one trial run through its first trainer; that trainer's pid."""
    store = supervised.store
    first = supervised.client.enqueue(toy(name="warm-up"))
    wait_until(lambda: store.trial(first).state.is_finished, "the warm-up trial ends", timeout=STARTING)
    assert store.trial(first).state is TrialState.COMPLETED
    return trainer_pid(store, first)


def _started(record: TrialRecord) -> bool:
    return record.started_at is not None


def _short_handed(records: list[TrialRecord], slots: int, since: float) -> list[tuple[float, float]]:
    """Stretches between two recorded events after `since` in which fewer than `slots` trials trained while
    another waited (queued from `created_at` until it started or was cancelled), other than hand-overs: from
    one trial's end to the next start, with nothing between but trials being queued (a sweep queues its
    next trial once one has ended)."""
    ENDS, STARTS, QUEUES = 0, 1, 2
    events = []
    for r in records:
        events.append((r.created_at, QUEUES))
        if r.started_at is not None:
            events.append((r.started_at, STARTS))
        events.append((r.finished_at if r.finished_at is not None else math.inf, ENDS))
    events.sort()
    bad = []
    for i, ((t0, _), (t1, _)) in enumerate(zip(events, events[1:])):
        if t0 < since:
            continue
        moment = (t0 + t1) / 2 if math.isfinite(t1) else t0 + 1.0
        running = sum(1 for r in records if r.started_at is not None and r.started_at <= moment
                      and (r.finished_at is None or moment < r.finished_at))
        waiting = sum(1 for r in records if r.created_at <= moment and (r.started_at is None or moment < r.started_at)
                      and (r.finished_at is None or moment < r.finished_at))
        before = next((kind for _, kind in reversed(events[:i + 1]) if kind != QUEUES), None)
        after = next((kind for _, kind in events[i + 1:] if kind != QUEUES), None)
        if running < slots and waiting > 0 and not (before == ENDS and after == STARTS):
            bad.append((t0, t1))
    return bad


def test_trials_queued_at_parallel_two_take_the_warm_trainer_while_the_second_starts(supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    warm = _warm_supervisor(supervised)
    client.set_parallel(2)
    first, second, third, fourth = (client.enqueue(toy(name=f"long-{i}", **LONG)) for i in range(4))
    wait_until(lambda: _started(store.trial(first)), "the first trial trains", timeout=STARTING)
    assert trainer_pid(store, first) == warm

    # The second trainer is still importing torch: the second trial must not wait for it.
    assert client.cancel(first) == f"stopping trial {first}"
    wait_until(lambda: _started(store.trial(second)) and _started(store.trial(third)), "two trials train",
               timeout=STARTING)
    two, three = store.trial(second), store.trial(third)
    assert two.started_at < three.started_at, "the second in line waited for a trainer that was still starting"
    assert {two.env["pid"], three.env["pid"]} >= {warm} and two.env["pid"] != three.env["pid"]
    assert two.finished_at is None and three.finished_at is None  # both trainers busy ...
    assert store.trial(fourth).state is TrialState.QUEUED  # ... while the fourth waits

    assert client.cancel(second) == f"stopping trial {second}"
    wait_until(lambda: _started(store.trial(fourth)), "the fourth trial takes the freed trainer", timeout=STARTING)
    two, three, four = store.trial(second), store.trial(third), store.trial(fourth)
    assert four.env["pid"] == two.env["pid"]
    assert two.finished_at is not None and two.finished_at <= four.started_at
    assert three.finished_at is None  # the other trainer never stopped training
    client.stop_all("the test is over")
    wait_until(lambda: all(store.trial(i).state.is_finished for i in (third, fourth)), "the last trials end")

    # Once both trainers were up (the third trial's start), no slot sat idle while a trial waited.
    since = store.trial(third).started_at
    assert since is not None
    assert _short_handed([store.trial(i) for i in (first, second, third, fourth)], 2, since) == []


def test_a_sweep_at_parallel_two_runs_its_trials_in_order_while_the_second_trainer_starts(
        supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    warm = _warm_supervisor(supervised)
    base = toy(**LONG)
    spec = parse_search({"strategy": "random", "trials": 4, "parallel": 2, "pruner": "none", "seed": 0,
                         "optim.lr": {"low": 1e-3, "high": 1e-1, "log": True}}, base)
    sweep_id = client.start_sweep(base, spec)

    def trials() -> list[TrialRecord]:
        return store.trials(sweep_id=sweep_id)

    wait_until(lambda: len(trials()) == 2 and any(_started(t) for t in trials()), "the sweep's first trial trains",
               timeout=STARTING)
    first = next(t for t in trials() if _started(t))
    second = next(t for t in trials() if t.id != first.id)
    assert trainer_pid(store, first.id) == warm

    assert client.cancel(first.id) == f"stopping trial {first.id}"
    wait_until(lambda: len(trials()) == 3 and sum(_started(t) for t in trials()[1:]) == 2,
               "two of the sweep's trials train", timeout=STARTING)
    two = store.trial(second.id)
    (three,) = [t for t in trials() if t.id not in (first.id, second.id)]
    assert two.started_at < three.started_at, "the sweep's second trial waited for a trainer that was still starting"
    assert two.env["pid"] != three.env["pid"] and warm in (two.env["pid"], three.env["pid"])
    assert two.finished_at is None and three.finished_at is None  # both trainers busy

    assert client.cancel(two.id) == f"stopping trial {two.id}"
    wait_until(lambda: len(trials()) == 4 and all(_started(t) for t in trials()), "the fourth trial trains",
               timeout=STARTING)
    three, four = store.trial(three.id), trials()[3]
    assert four.env["pid"] == two.env["pid"] and three.finished_at is None
    client.stop_sweep(sweep_id, "the test is over")
    wait_until(lambda: not store.sweep(sweep_id).state.is_active, "the sweep stops")
    assert len(trials()) == 4 and all(t.state.is_finished for t in trials())
    since = store.trial(three.id).started_at
    assert since is not None
    assert _short_handed(trials(), 2, since) == []
