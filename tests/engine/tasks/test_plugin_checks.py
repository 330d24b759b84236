"""A plugin's data that the loop cannot train on is refused before the first step, with a message that
names the plugin's file, the split, the rule and what was given; good data still trains."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.errors import TaskError
from engine.events import EpochEnded, StepLoss, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.tasks import build_task
from engine.training.loop import train

PLUGINS = Path(__file__).parents[1] / "plugins"
FILE = str(PLUGINS / "tunedeck_test_bad_data.py")


@pytest.fixture(autouse=True)
def plugins_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))


def config(function: str, **updates: object) -> Config:
    base = {"task": {"name": f"tunedeck_test_bad_data:{function}"}, "model": {"hidden": [4]},
            "optim": {"max_epochs": 2, "batch_size": 16}, "run": {"device": "cpu"}}
    return Config.from_dict(base).with_updates(updates)


def refused(function: str) -> str:
    with pytest.raises(TaskError) as caught:
        build_task(config(function))
    return str(caught.value)


def test_a_flat_regression_target_is_refused_naming_the_file_the_shape_and_the_fix() -> None:
    message = refused("flat_target")
    assert FILE in message and "tunedeck_test_bad_data:flat_target" in message
    assert "TaskData.train.y" in message and "(36,)" in message and "(36, 1)" in message
    assert "reshape(-1, 1)" in message


def test_a_label_past_n_classes_is_refused_naming_the_split_and_the_values() -> None:
    message = refused("label_past_n_classes")
    assert FILE in message and "TaskData.val.y" in message
    assert "0..2 (n_classes=3)" in message and "from 0 to 3" in message


@pytest.mark.parametrize(("function", "expected"), [
    ("negative_label", "from -1 to 2"),
    ("float_labels", "integers (torch.long), got dtype torch.float32"),
    ("binary_label_two", "binary targets must be 0 or 1, got values from 0 to 2"),
])
def test_other_bad_class_targets_are_refused(function: str, expected: str) -> None:
    message = refused(function)
    assert FILE in message and expected in message


def test_the_refusal_ends_the_trial_failed_before_it_starts() -> None:
    events = list(train(config("flat_target")))
    assert len(events) == 1 and isinstance(events[0], TrialFinished)
    assert events[0].state is TrialState.FAILED and FILE in events[0].reason and "(36,)" in events[0].reason
    assert events[0].error is None  # a one-line reason, not a traceback


def test_a_loaders_bad_label_fails_the_trial_at_that_batch_before_any_step_on_it() -> None:
    events = list(train(config("loader_label_past_n_classes")))
    finished = events[-1]
    assert isinstance(finished, TrialFinished) and finished.state is TrialState.FAILED
    assert FILE in finished.reason and "a batch of TaskData.train.y" in finished.reason
    assert "from 0 to 7" in finished.reason and finished.error is None
    assert not any(isinstance(e, EpochEnded) for e in events)
    assert all(e.step <= 2 for e in events if isinstance(e, StepLoss))  # the third batch never trained


def test_an_own_model_whose_output_does_not_match_a_flat_target_fails_at_the_first_loss() -> None:
    events = list(train(config("flat_target_own_model", **{"run.log_every": 1})))
    finished = events[-1]
    assert isinstance(finished, TrialFinished) and finished.state is TrialState.FAILED
    assert FILE in finished.reason and "(16, 1)" in finished.reason and "(16,)" in finished.reason
    assert not any(isinstance(e, StepLoss) for e in events)


@pytest.mark.parametrize("function", ["column_target", "flat_target_flat_model", "ignored_label", "loader_labels_ok"])
def test_good_data_still_trains(function: str) -> None:
    events = list(train(config(function)))
    assert isinstance(events[0], TrialStarted)
    finished = events[-1]
    assert isinstance(finished, TrialFinished) and finished.state is TrialState.COMPLETED, finished.reason
    assert sum(isinstance(e, EpochEnded) for e in events) == 2
