"""How a script's stdout becomes epochs, its stderr a bounded tail, and stored rows events."""
from __future__ import annotations

import math

from engine.config.groups import Config
from engine.events import EpochEnded, StepLoss
from engine.ownloop.metric_events import MetricEvents
from engine.ownloop.script_output import MetricLines, StderrTail, metric_pairs
from engine.store import Store
from engine.store.script_runs import ScriptProgress


def feed(lines: MetricLines, *timed: tuple[float, str]) -> list[tuple[int, dict]]:
    out = []
    for when, text in timed:
        out += [(e.epoch, e.values) for e in lines.feed(text, when) + lines.due(when)]
    return out


def test_pairs_are_read_in_either_form_and_only_with_numbers() -> None:
    pairs = metric_pairs("Epoch 3/10 - loss: 0.30 - acc: 0.9, val_loss=1e-3 lr: 3e-4 url http://host:8080 name: bob")
    assert pairs == {"loss": 0.30, "acc": 0.9, "val_loss": 0.001, "lr": 0.0003}
    assert math.isnan(metric_pairs("val_loss: nan")["val_loss"])
    assert metric_pairs("step 4 of 10") == {}


def test_a_script_without_epoch_lines_has_an_epoch_per_line_of_standard_metrics() -> None:
    lines = MetricLines()
    got = feed(lines, (0, "loading data: batch_size=64"), (1, "train_loss: 1.0 val_loss: 2.0"),
               (2, "val_loss=1.5 accuracy=0.4 step=7"), (3, "loss: 9"))
    assert got == [(1, {"train_loss": 1.0, "val_loss": 2.0}), (2, {"val_loss": 1.5, "accuracy": 0.4})]
    assert lines.close() == []


def test_epoch_lines_gather_the_lines_after_them_until_the_next_epoch_or_a_quiet_second() -> None:
    lines = MetricLines(quiet=1.0)
    got = feed(lines, (0.0, "epoch: 1"), (0.1, "train_loss: 0.5"), (0.2, "val_loss: 0.3"), (0.3, "Epoch: 2"))
    assert got == [(1, {"train_loss": 0.5, "val_loss": 0.3})]  # the next epoch line ends it
    assert feed(lines, (0.4, "train_loss: 0.4"), (1.5, "progress 50%")) == [(2, {"train_loss": 0.4})]  # quiet
    # A validation printed long after its epoch's training loss still joins that epoch; a metric it holds does not.
    assert feed(lines, (9.0, "val_loss: 0.2 train_loss: 7"), (10.5, "")) == [(2, {"val_loss": 0.2})]
    assert feed(lines, (11.0, "epoch=3 val_loss=0.1"), (11.1, "x")) == []
    assert [(e.epoch, e.values) for e in lines.close()] == [(3, {"val_loss": 0.1})]


def test_the_stderr_tail_keeps_the_last_lines_within_its_size() -> None:
    tail = StderrTail(lines=3, limit=40)
    for i in range(10):
        tail.add(f"line {i}\n")
    assert tail.text() == "line 7\nline 8\nline 9"
    tail.add("x" * 100)
    assert tail.text().startswith("...") and len(tail.text().encode()) <= 43


def test_stored_rows_become_step_losses_and_one_event_per_whole_epoch(store: Store) -> None:
    trial_id = store.create_trial(Config.from_dict({"task": {"name": "script", "path": "t.py"}}))
    store.take_trial(trial_id, {}, {})
    events = MetricEvents(store, trial_id, quiet=2.0)
    store.log_script(trial_id, [(1, 1, "step_loss", 0.9), (1, 2, "grad_norm", 3.0)], ScriptProgress())
    assert events.poll(now=0.0) == [StepLoss(1, 1, 0.9)]  # a per-step value does not end the epoch in progress
    store.log_script(trial_id, [(1, 2, "train_loss", 0.8), (1, 2, "epoch_seconds", 1.5)], ScriptProgress(1, 2))
    assert events.poll(now=1.0) == []  # no validation yet: it may come in the next batch
    store.log_script(trial_id, [(1, 2, "val_loss", 0.7), (2, 3, "step_loss", 0.6)], ScriptProgress(1, 2))
    (epoch, step) = events.poll(now=1.5)
    assert isinstance(epoch, EpochEnded) and math.isnan(epoch.lr)  # what the script did not log is NaN
    assert (epoch.epoch, epoch.step, epoch.train_loss, epoch.val_loss, epoch.val_acc, epoch.seconds, epoch.improved) \
        == (1, 2, 0.8, 0.7, None, 1.5, True)
    assert step == StepLoss(2, 3, 0.6)
    store.log_script(trial_id, [(2, 4, "train_loss", 0.5), (2, 4, "epoch_seconds", 1.0)], ScriptProgress(2, 4))
    assert events.poll(now=2.0) == []
    (late,) = events.poll(now=4.5)  # quiet for two seconds: the epoch without validation is sent
    assert isinstance(late, EpochEnded) and late.epoch == 2 and math.isnan(late.val_loss) and not late.improved
    other = store.create_trial(Config.from_dict({}))
    store.log_script(other, [(1, 1, "val_loss", 0.1)], ScriptProgress(1, 1))
    assert events.poll(now=5.0) == [] and events.flush() == []  # another trial's rows are not its events
