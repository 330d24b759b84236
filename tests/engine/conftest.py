"""Shared fixtures for the store, views and export tests: real stores fed with real events."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.config.groups import Config
from engine.events import EpochEnded, StepLoss, Summary, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.store import Store

RunTrial = Callable[..., int]


def started_event(device: str = "cpu") -> TrialStarted:
    return TrialStarted(device=device, n_params=321, n_train=70, n_val=15, n_test=15, steps_per_epoch=2,
                        problem="binary", threads=1, info={"classes": ["a", "b"]})


def epoch_event(epoch: int, *, val_loss: float | None = None, improved: bool = True,
                val_acc: float | None = 0.5, steps_per_epoch: int = 2) -> EpochEnded:
    return EpochEnded(epoch=epoch, step=epoch * steps_per_epoch, train_loss=1.0 / epoch,
                      val_loss=val_loss if val_loss is not None else 2.0 / epoch, val_acc=val_acc,
                      lr=0.01, seconds=0.25, improved=improved)


def _run_trial(store: Store, config: dict[str, Any] | None = None, *, epochs: int = 2,
               state: TrialState | None = TrialState.COMPLETED, best_val_loss: float | None = None,
               error: str | None = None, start: bool = True, sweep_id: int | None = None) -> int:
    """Create a trial and feed it events like the runner would; state None leaves it running."""
    tid = store.create_trial(Config.from_dict(config or {}), sweep_id=sweep_id)
    if not start:
        return tid
    store.start_trial(tid, started_event(), {"torch": "test", "pid": 1})
    for e in range(1, epochs + 1):
        for s in range(1, 3):
            store.record(tid, StepLoss(epoch=e, step=(e - 1) * 2 + s, loss=1.0 / (e + s)))
        store.record(tid, epoch_event(e))
    if state is not None:
        best = best_val_loss if best_val_loss is not None else (2.0 / epochs if epochs else None)
        summary = Summary(best_epoch=epochs or None, best_val_loss=best, val_acc_at_best=0.5 if epochs else None,
                          test_loss=best, test_acc=0.5 if epochs else None, epochs_run=epochs, steps=epochs * 2)
        store.record(tid, TrialFinished(state=state, reason=f"{state.value} in test", summary=summary,
                                        seconds=1.25, error=error))
    return tid



@pytest.fixture
def run_trial() -> RunTrial:
    return _run_trial


@pytest.fixture
def mixed_store(store: Store) -> Store:
    """Trials in several states, with differing knobs, nulls (queued, running) and a sweep."""
    _run_trial(store, {"name": "wide", "model": {"hidden": [256, 128]}, "optim": {"lr": 0.01}},
               best_val_loss=0.3, sweep_id=7)
    _run_trial(store, {"name": "narrow", "optim": {"lr": 0.001}}, best_val_loss=0.2)
    _run_trial(store, {"name": "broken"}, state=TrialState.FAILED, best_val_loss=0.05, error="Traceback: boom")
    _run_trial(store, {"name": "live"}, state=None)
    _run_trial(store, {"name": "waiting"}, start=False)
    return store
