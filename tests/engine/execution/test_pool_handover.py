"""A slot freed by a trial goes to the next waiting trial before the ended trial's `on_done` runs: a slow
`on_done` (a sweep telling its sampler, a supervisor writing its log) does not hold the queue up."""
from __future__ import annotations

import threading
import time

from engine.config.groups import Config
from engine.events import TrialFinished
from engine.execution.executors import ThreadExecutor
from engine.execution.pool import TrialPool
from engine.store import Store

WAIT = 60.0


def toy() -> Config:
    return Config.from_dict({"task": {"name": "toy2d", "n_samples": 200}, "model": {"hidden": [4]},
                             "optim": {"max_epochs": 1}, "run": {"device": "cpu"}})


def test_the_next_waiting_trial_starts_while_the_ended_trials_on_done_still_runs(store: Store) -> None:
    pool = TrialPool(store, ThreadExecutor(), parallel=1)
    second: list[int] = []
    saw_it_running = threading.Event()

    def slow_on_done(trial_id: int, finished: TrialFinished, broke: bool) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:  # returns only once the next trial has its slot
            if second and (second[0] in pool.running_ids() or store.trial(second[0]).state.is_finished):
                saw_it_running.set()
                return
            time.sleep(0.005)

    first = pool.submit(toy(), on_done=slow_on_done)
    second.append(pool.submit(toy()))
    assert pool.wait_idle(WAIT)
    assert saw_it_running.is_set(), "the second trial waited for the first one's on_done"
    assert store.trial(first).state.is_finished and store.trial(second[0]).state.is_finished
    pool.shutdown(wait=0)
