"""The training loop as a generator of events: how trials end, how often they speak, reproducibility.

Every test trains for real on a tiny task (a few hundred points, a few epochs, fixed seeds). The
only thing faked is the absence of a GPU, in the mixed-precision test that must hold on any box.
"""
from __future__ import annotations

import math
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.config.groups import Config
from engine.errors import ConfigError, TaskError
from engine.events import EpochEnded, Event, StepLoss, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.tasks.base import Split, TaskData
from engine.training import device as engine_device
from engine.training.loop import STEP_LOGS_PER_EPOCH, prepare, train

PLUGINS = Path(__file__).parents[1] / "plugins"


def cfg(**dotted: Any) -> Config:
    """A Config from dotted keys, e.g. cfg(**{"optim.lr": 0.1}); small toy2d on the CPU by default.

    The CPU is pinned so that the expectations hold on a GPU box too.
    """
    base = Config.from_dict({"task": {"n_samples": 300}, "optim": {"max_epochs": 3}, "run": {"device": "cpu"}})
    return base.with_updates(dotted)


def run(config: Config, **kwargs: Any) -> list[Event]:
    return list(train(config, **kwargs))


def of(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def finished(events: list[Event]) -> TrialFinished:
    last = events[-1]
    assert isinstance(last, TrialFinished)
    assert len(of(events, TrialFinished)) == 1
    return last


def curve(events: list[Event]) -> list[tuple[Any, ...]]:
    """Everything an epoch reports except its wall time."""
    return [(e.epoch, e.step, e.train_loss, e.val_loss, e.val_acc, e.lr, e.improved)
            for e in of(events, EpochEnded)]


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))


# --- the shape of a run ----------------------------------------------------------------------


def test_a_completed_run_yields_started_steps_epochs_and_one_finish() -> None:
    events = run(cfg(**{"optim.max_epochs": 3}))
    started = events[0]
    assert isinstance(started, TrialStarted)
    assert (started.n_train, started.n_val, started.n_test) == (210, 45, 45)
    assert started.steps_per_epoch == 4  # ceil(210 / 64)
    assert started.problem == "binary" and started.device == "cpu"

    end = finished(events)
    assert end.state is TrialState.COMPLETED
    assert "ran all 3 epochs" in end.reason
    epochs = of(events, EpochEnded)
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert [e.step for e in epochs] == [4, 8, 12]
    assert end.summary.epochs_run == 3 and end.summary.steps == 12
    assert all(math.isfinite(e.train_loss) and math.isfinite(e.val_loss) for e in epochs)
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert end.summary.test_acc is not None and end.summary.test_acc > 0.9
    # StepLoss events belong to the epoch they were taken in.
    for step in of(events, StepLoss):
        assert (step.step - 1) // 4 + 1 == step.epoch


# --- bounded step logging ----------------------------------------------------------------------


def test_step_losses_are_capped_at_about_fifty_per_epoch_by_default() -> None:
    # 700 train samples in batches of 4: 175 steps an epoch, far more than the UI should get.
    events = run(cfg(**{"task.n_samples": 1000, "optim.batch_size": 4, "optim.max_epochs": 2}))
    started = events[0]
    assert started.steps_per_epoch == 175
    steps = of(events, StepLoss)
    for epoch in (1, 2):
        logged = sum(1 for s in steps if s.epoch == epoch)
        assert STEP_LOGS_PER_EPOCH // 2 <= logged <= STEP_LOGS_PER_EPOCH
    assert [s.step for s in steps] == sorted({s.step for s in steps})
    assert finished(events).summary.steps == 350


def test_every_step_is_logged_when_an_epoch_has_fewer_than_fifty() -> None:
    events = run(cfg(**{"optim.max_epochs": 2}))
    assert [s.step for s in of(events, StepLoss)] == list(range(1, 9))


def test_log_every_n_gives_one_step_loss_per_n_steps() -> None:
    events = run(cfg(**{"task.n_samples": 1000, "optim.batch_size": 4, "optim.max_epochs": 1,
                        "run.log_every": 7}))
    assert [s.step for s in of(events, StepLoss)] == list(range(7, 176, 7))


# --- reproducibility ---------------------------------------------------------------------------


def test_same_seed_gives_the_same_curve_and_another_seed_does_not() -> None:
    # Dropout and shuffling both draw random numbers: the seed must pin all of them.
    config = cfg(**{"model.hidden": [16], "reg.dropout": 0.3, "run.log_every": 1})
    first, second = run(config), run(config)
    assert curve(first) == curve(second)
    assert of(first, StepLoss) == of(second, StepLoss)
    assert finished(first).summary == finished(second).summary

    other = run(config.with_updates({"run.seed": 1}))
    assert curve(other) != curve(first)


def test_a_setup_prepared_ahead_trains_the_same_curve() -> None:
    # Dropout draws from torch's global generator: whatever draws from it between prepare() and
    # train(setup=...) (another trial, the caller) must not change this trial's curve.
    config = cfg(**{"model.hidden": [16], "reg.dropout": 0.5, "optim.max_epochs": 2})
    reference = curve(run(config))
    ahead = prepare(config)
    run(config.with_updates({"run.seed": 7}))  # another trial runs before this one starts
    torch.rand(1000)
    assert curve(run(config, setup=ahead)) == reference


def test_initial_weights_do_not_depend_on_the_tasks_random_draws(plugins: None) -> None:
    # A plugin that draws more or fewer points from torch's global RNG must not change the model's
    # starting point: otherwise comparing two data settings also compares two initialisations.
    def initial(n: int) -> list[torch.Tensor]:
        setup = prepare(cfg(**{"task.name": "tunedeck_test_plugins:global_rng", "task.options": {"n": n}}))
        return [p.detach().clone() for p in setup.model.parameters()]

    small, large = initial(50), initial(500)
    assert all(torch.equal(a, b) for a, b in zip(small, large))


# --- how trials end ----------------------------------------------------------------------------


def test_a_huge_learning_rate_ends_the_trial_as_diverged_naming_the_epoch() -> None:
    config = cfg(**{"task.name": "curve", "task.n_samples": 100, "optim.optimizer": "sgd", "optim.lr": 100.0,
                    "optim.max_epochs": 20})
    events = run(config)
    end = finished(events)
    assert end.state is TrialState.DIVERGED
    match = re.search(r"train loss became (nan|inf|-inf) at epoch (\d+), step (\d+)", end.reason)
    assert match, end.reason
    assert int(match.group(2)) == end.summary.epochs_run + 1 < 21  # the epoch that diverged did not finish
    assert all(math.isfinite(s.loss) for s in of(events, StepLoss))
    assert all(math.isfinite(e.train_loss) and math.isfinite(e.val_loss) for e in of(events, EpochEnded))
    assert end.summary.test_loss is None


def test_divergence_between_logged_steps_is_still_caught_at_the_epoch_end() -> None:
    config = cfg(**{"task.name": "curve", "task.n_samples": 100, "optim.optimizer": "sgd", "optim.lr": 100.0,
                    "optim.max_epochs": 20, "run.log_every": 1000})
    events = run(config)
    end = finished(events)
    assert end.state is TrialState.DIVERGED
    assert not of(events, StepLoss)
    assert re.search(r"train loss became \S+ at epoch \d+", end.reason), end.reason


def test_a_plugin_loss_that_returns_nan_diverges_at_the_first_step(plugins: None) -> None:
    events = run(cfg(**{"task.name": "tunedeck_test_plugins:nan_loss"}))
    end = finished(events)
    assert end.state is TrialState.DIVERGED
    assert "train loss became nan at epoch 1, step 1" in end.reason
    assert not of(events, EpochEnded)


def test_cancel_ends_the_trial_within_one_batch() -> None:
    cancel = threading.Event()
    events: list[Event] = []
    steps_after_cancel = 0
    for event in train(cfg(**{"run.log_every": 1, "optim.max_epochs": 5}), cancel):
        events.append(event)
        if isinstance(event, StepLoss):
            if cancel.is_set():
                steps_after_cancel += 1
            cancel.set()
    end = finished(events)
    assert end.state is TrialState.CANCELLED
    assert steps_after_cancel <= 1
    assert end.summary.steps <= 2
    assert "cancelled by the user at epoch 1" in end.reason
    assert not of(events, EpochEnded)
    assert end.summary.epochs_run == 0  # the epoch in flight did not finish, so it is not counted


def test_an_exception_in_the_users_model_fails_the_trial_with_its_traceback(plugins: None) -> None:
    events = run(cfg(**{"task.name": "tunedeck_test_plugins:boom_model"}))
    assert isinstance(events[0], TrialStarted)
    end = finished(events)
    assert end.state is TrialState.FAILED
    assert end.reason == "ValueError: boom"
    assert end.error is not None
    assert "Traceback" in end.error and 'raise ValueError("boom")' in end.error


def test_a_plugin_returning_something_else_than_task_data_fails_naming_the_plugin(plugins: None) -> None:
    events = run(cfg(**{"task.name": "tunedeck_test_plugins:not_task_data"}))
    assert len(events) == 1
    end = finished(events)
    assert end.state is TrialState.FAILED
    assert "'tunedeck_test_plugins:not_task_data'" in end.reason
    assert "returned dict" in end.reason and "TaskData" in end.reason


def test_a_plugin_that_cannot_be_imported_is_a_task_error(plugins: None) -> None:
    config = cfg(**{"task.name": "tunedeck_no_such_module:build"})
    with pytest.raises(TaskError) as info:
        prepare(config)
    message = str(info.value)
    assert message.startswith("task.name: cannot import 'tunedeck_no_such_module'")
    assert "'tunedeck_no_such_module:build'" in message
    end = finished(run(config))
    assert end.state is TrialState.FAILED and end.reason == message and end.error is None


def test_a_plugin_missing_a_dependency_names_the_dependency(plugins: None) -> None:
    with pytest.raises(TaskError, match=r"cannot import 'tunedeck_test_broken_plugin'.*"
                                        r"tunedeck_missing_dependency_xyz"):
        prepare(cfg(**{"task.name": "tunedeck_test_broken_plugin:build"}))


@pytest.mark.parametrize("name", ["tunedeck_test_plugins:no_such_function", "tunedeck_test_plugins:not_callable"])
def test_a_plugin_module_without_the_function_is_a_task_error(plugins: None, name: str) -> None:
    function = name.partition(":")[2]
    with pytest.raises(TaskError, match=f"has no function '{function}'"):
        prepare(cfg(**{"task.name": name}))


def test_a_plugin_found_in_the_working_directory_trains_its_own_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PLUGINS)  # the loader searches the working directory, as `python -m` does
    monkeypatch.setattr(sys, "path", list(sys.path))  # and adds it to sys.path: undo that afterwards
    config = cfg(**{"task.name": "tunedeck_test_plugins:linear", "task.options": {"n": 100},
                    "optim.lr": 0.05, "optim.max_epochs": 40, "optim.batch_size": 16})
    events = run(config)
    started = events[0]
    assert isinstance(started, TrialStarted)
    assert (started.n_train, started.n_val, started.n_test) == (60, 20, 20)  # task.options reached it
    assert started.info["plugin"] == "tunedeck_test_plugins:linear"
    assert started.n_params == 4 and started.problem == "regression"
    end = finished(events)
    assert end.state is TrialState.COMPLETED
    assert end.summary.test_loss is not None and end.summary.test_loss < 0.01


@pytest.mark.parametrize("empty", ["train", "val", "test"])
def test_an_empty_split_fails_the_trial_naming_the_split(empty: str) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(60, 2, generator=gen)
    y = (x[:, 0] > 0).long()
    splits = {name: Split(x[i * 20:(i + 1) * 20], y[i * 20:(i + 1) * 20])
              for i, name in enumerate(("train", "val", "test"))}
    splits[empty] = Split(x[:0], y[:0])
    data = TaskData(splits["train"], splits["val"], splits["test"], problem="binary", input_shape=(2,),
                    n_classes=2, class_counts=[10, 10])
    end = finished(run(cfg(), data=data))
    assert end.state is TrialState.FAILED
    assert empty in end.reason


# --- mixed precision ---------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_on_an_explicit_cpu_is_refused_by_the_config(precision: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"run": {"device": "cpu", "precision": precision}})
    assert info.value.key == "run.precision"
    assert str(info.value).startswith("run.precision:") and "'cpu'" in str(info.value)


def test_mixed_precision_on_auto_resolved_to_cpu_is_refused_at_prepare(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fake: no GPU and no MPS, so that `auto` resolves to the CPU on any machine.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(engine_device, "_mps_available", lambda: False)
    config = cfg(**{"run.device": "auto", "run.precision": "bf16"})  # valid as a config
    with pytest.raises(ConfigError) as info:
        prepare(config)
    assert info.value.key == "run.precision"
    assert "cpu" in str(info.value)
    end = finished(run(config))
    assert end.state is TrialState.FAILED and end.reason.startswith("run.precision:")
