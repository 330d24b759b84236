"""TrialRun: a real trial trained into a real store, and what the store holds afterwards."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.config.groups import Config
from engine.events import EpochEnded, Event, StepLoss, TrialFinished, TrialStarted
from engine.execution.runner import TrialRun
from engine.states import TrialState
from engine.store import Store

PLUGINS = Path(__file__).parents[1] / "plugins"


def config(**dotted: Any) -> Config:
    base = Config.from_dict({"name": "tiny", "task": {"n_samples": 200}, "optim": {"max_epochs": 3},
                             "run": {"log_every": 1, "device": "cpu"}})
    return base.with_updates(dotted)



def rows(store: Store, trial_id: int, metric: str) -> list[tuple[int, int, float | None]]:
    return [(epoch, step, value) for _, epoch, step, name, value in store.history([trial_id]) if name == metric]


def test_a_run_records_state_summary_history_and_environment(store: Store) -> None:
    run = TrialRun(store, config())
    assert store.trial(run.trial_id).state is TrialState.QUEUED
    events: list[Event] = []
    for event in run:
        events.append(event)
        if isinstance(event, TrialStarted):
            assert store.trial(run.trial_id).state is TrialState.RUNNING
        if isinstance(event, EpochEnded):  # each epoch is committed as it ends
            assert store.trial(run.trial_id).epochs_run == event.epoch
            assert len(store.epochs(run.trial_id)) == event.epoch

    end = events[-1]
    assert isinstance(end, TrialFinished) and run.finished == end
    assert end.state is TrialState.COMPLETED

    record = store.trial(run.trial_id)
    assert record.name == "tiny" and record.task == "toy2d"
    assert record.config == config().to_dict()
    assert record.state is TrialState.COMPLETED and record.reason == end.reason and record.error is None
    s = end.summary
    assert (record.best_epoch, record.best_val_loss, record.val_acc_at_best, record.test_loss, record.test_acc,
            record.epochs_run, record.steps, record.max_val_acc) == (s.best_epoch, s.best_val_loss, s.val_acc_at_best,
                                                                     s.test_loss, s.test_acc, 3, s.steps, s.max_val_acc)
    assert record.duration_s is not None and record.duration_s > 0

    started = events[0]
    assert isinstance(started, TrialStarted)
    assert record.problem == "binary" and record.n_params == started.n_params and record.device == "cpu"
    assert record.run_info["steps_per_epoch"] == started.steps_per_epoch
    assert record.env["torch"] == torch.__version__
    assert record.env["hostname"] == socket.gethostname() == record.hostname
    assert record.env["device"] == "cpu"

    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert rows(store, run.trial_id, "val_loss") == [(e.epoch, e.step, e.val_loss) for e in epochs]
    assert [r["lr"] for r in store.epochs(run.trial_id)] == [e.lr for e in epochs]
    steps = [e for e in events if isinstance(e, StepLoss)]
    assert len(steps) == s.steps  # log_every = 1
    assert rows(store, run.trial_id, "step_loss") == [(e.epoch, e.step, e.loss) for e in steps]


def test_breaking_out_early_records_the_trial_as_cancelled(store: Store) -> None:
    run = TrialRun(store, config(**{"optim.max_epochs": 5}))
    steps_seen = 0
    for event in run:
        if isinstance(event, StepLoss):
            steps_seen += 1
        if isinstance(event, EpochEnded):
            break  # the loop drops its iterator, which closes the generator
    record = store.trial(run.trial_id)
    assert record.state is TrialState.CANCELLED
    assert record.reason is not None and "interrupted" in record.reason
    assert record.finished_at is not None
    assert record.epochs_run == 1
    assert len(rows(store, run.trial_id, "step_loss")) == steps_seen
    assert len(rows(store, run.trial_id, "val_loss")) == 1


def test_stop_ends_the_trial_as_cancelled_within_one_batch(store: Store) -> None:
    run = TrialRun(store, config(**{"optim.max_epochs": 5}))
    events: list[Event] = []
    for event in run:
        events.append(event)
        if isinstance(event, StepLoss):
            run.stop()
    end = events[-1]
    assert isinstance(end, TrialFinished) and end.state is TrialState.CANCELLED
    assert sum(isinstance(e, StepLoss) for e in events) == 1
    record = store.trial(run.trial_id)
    assert record.state is TrialState.CANCELLED and record.reason == end.reason
    assert "cancelled by the user" in record.reason
    assert rows(store, run.trial_id, "step_loss") == [(1, 1, events[1].loss)]  # flushed with the finish


def test_a_failing_user_model_is_stored_with_its_traceback(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    run = TrialRun(store, config(**{"task.name": "tunedeck_test_plugins:boom_model"}))
    events = list(run)
    assert isinstance(events[-1], TrialFinished)
    record = store.trial(run.trial_id)
    assert record.state is TrialState.FAILED
    assert record.reason == "ValueError: boom"
    assert record.error is not None and "Traceback" in record.error and "boom" in record.error
    assert record.task == "tunedeck_test_plugins:boom_model"
    assert record.env["torch"] == torch.__version__  # it started before it failed
