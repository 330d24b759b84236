"""When checkpoints are written: every `run.checkpoint_every` seconds from the start of training,
stretched for a model whose writes are slow, and the best one always at the end."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch

from engine.store import Store
from engine.training.checkpoint import BEST, LAST, WRITE_SHARE_LIMIT, Checkpointer
from tests.engine.execution.checkpoint_helpers import kinds, run, toy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fake_trial(epoch: int, best_epoch: int) -> tuple[Any, Any]:
    model = torch.nn.Linear(2, 1)
    setup = SimpleNamespace(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), scheduler=None,
                            config=toy(), data=SimpleNamespace(problem="binary", input_shape=(2,), n_classes=2,
                                                               out_features=1, model=None), loss_name="bce")
    progress = SimpleNamespace(epochs_done=epoch, step=epoch, best_epoch=best_epoch, best_val_loss=0.1,
                               val_acc_at_best=0.9, max_val_acc=0.9, best_score=0.1, stale_epochs=0, best_state=model.state_dict(),
                               started=0.0, earlier_seconds=0.0)
    return setup, progress


def test_the_first_write_waits_a_whole_interval_and_the_best_is_written_at_the_end() -> None:
    clock, written = Clock(), []
    checkpoints = Checkpointer("both", 30.0, lambda kind, payload, epoch: written.append((kind, epoch)), clock=clock)
    for epoch in range(1, 6):  # five quick epochs: no write yet
        clock.now += 5
        checkpoints.after_epoch(*fake_trial(epoch, epoch), torch.Generator(), None, improved=True)
    assert written == []
    clock.now += 10  # 35 s since training started
    checkpoints.after_epoch(*fake_trial(6, 6), torch.Generator(), None, improved=True)
    assert written == [(LAST, 6), (BEST, 6)]
    checkpoints.at_end(*fake_trial(7, 7))
    assert written[-1] == (BEST, 7)
    checkpoints.at_end(*fake_trial(7, 7))  # already on disk: not again
    assert len(written) == 3


def test_a_slow_write_stretches_the_interval_to_keep_writing_under_its_share() -> None:
    clock, written = Clock(), []

    def write(kind: str, payload: dict, epoch: int) -> None:
        written.append((kind, epoch, clock.now))
        clock.now += 3.0  # a large model: each write takes 3 s

    checkpoints = Checkpointer("last", 10.0, write, clock=clock)
    epoch = 0
    while clock.now < 400:
        epoch += 1
        clock.now += 2.0
        checkpoints.after_epoch(*fake_trial(epoch, 1), torch.Generator(), None, improved=False)
    starts = [at for _, _, at in written]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps and min(gaps) >= 3.0 / WRITE_SHARE_LIMIT  # 100 s apart, not 10
    assert 3.0 * len(written) / 400 <= WRITE_SHARE_LIMIT + 0.02


def test_every_zero_writes_after_each_epoch() -> None:
    written: list = []
    checkpoints = Checkpointer("last", 0.0, lambda kind, payload, epoch: written.append(epoch), clock=Clock())
    for epoch in range(1, 4):
        checkpoints.after_epoch(*fake_trial(epoch, 1), torch.Generator(), None, improved=False)
    assert written == [1, 2, 3]


def test_a_short_trial_cancelled_before_its_first_write_starts_over_when_queued_again(store: Store) -> None:
    config = toy(**{"run.checkpoint_every": 86_400.0})
    first = run(store, config, stop_at_epoch=3)
    assert LAST not in kinds(store, first.trial_id)  # nothing written within the first interval
    again = run(store, config, trial_id=first.trial_id)
    assert again.resumed_from is None and [e.epoch for e in again.epochs][0] == 1
    record = store.trial(first.trial_id)
    assert record.epochs_run == again.epochs[-1].epoch and "started over" in (record.note or "")
    assert kinds(store, first.trial_id) == {BEST: [record.best_epoch]}
