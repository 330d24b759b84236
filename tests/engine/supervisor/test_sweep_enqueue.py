"""A hand-picked config enqueued into a sweep the supervisor runs (the cockpit's way): it runs next; one
outside the search is refused with the key, the rule and the value."""
from __future__ import annotations

from engine.states import SweepState, TrialState
from engine.sweeps.spec import parse_search
from tests.engine.supervisor.conftest import Supervised
from tests.engine.supervisor.helpers import LONG, toy, wait_until


def test_a_config_enqueued_through_the_supervisor_runs_next(supervised: Supervised) -> None:
    store, client = supervised.store, supervised.client
    base = toy(**LONG)
    spec = parse_search({"strategy": "random", "trials": 3, "seed": 1,
                         "optim.lr": {"low": 1e-3, "high": 0.1, "log": True}}, base)
    sweep_id = client.start_sweep(base, spec)
    assert store.sweep(sweep_id).spec["optuna"]["sampler"] == {"class": "RandomSampler", "seed": 1}  # pinned

    def answer(command_id: int) -> str | None:
        command = client.wait(command_id, 10)
        assert command is not None, "the supervisor did not answer"
        return command.result

    def trials() -> list:
        return store.trials(sweep_id=sweep_id)

    wait_until(lambda: any(t.state is TrialState.RUNNING for t in trials()), "the sweep's first trial trains")
    assert answer(client.pause_sweep(sweep_id)) == f"sweep {sweep_id} paused"
    before = len(trials())
    wanted = base.with_updates({"optim.lr": 0.0123, "model.hidden": (99,)}).to_dict()
    assert answer(client.enqueue_into_sweep(sweep_id, wanted)) == f"enqueued into sweep {sweep_id}, runs next: lr=0.0123"
    outside = base.with_updates({"optim.lr": 0.5}).to_dict()
    assert answer(client.enqueue_into_sweep(sweep_id, outside)) == (
        "refused: optim.lr: is outside this sweep's search (0.001 to 0.1), got 0.5")
    assert answer(client.unpause_sweep(sweep_id)) == f"sweep {sweep_id} running"
    for t in trials():
        if t.state is TrialState.RUNNING:
            client.cancel(t.id)  # no need to wait for it
    wait_until(lambda: len(trials()) > before, "the next trial starts")
    nxt = trials()[before]
    assert nxt.config["optim"]["lr"] == 0.0123 and nxt.config["model"]["hidden"] == base.to_dict()["model"]["hidden"]
    assert answer(client.stop_sweep(sweep_id, "stopped by the test")) == f"stopping sweep {sweep_id}"
    wait_until(lambda: not store.sweep(sweep_id).state.is_active, "the sweep stops")
    assert store.sweep(sweep_id).state is SweepState.STOPPED
