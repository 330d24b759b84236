"""Rewinding a trial (before it resumes from a checkpoint, or starts over) forgets the epochs after the
checkpoint, and the highest val_acc of any epoch with them."""
from __future__ import annotations

from engine.config.groups import Config
from engine.events import EpochEnded, TrialStarted
from engine.store import Store


def _trial_with_epochs(store: Store, accuracies: list[float]) -> int:
    trial_id = store.create_trial(Config.from_dict({}))
    store.start_trial(trial_id, TrialStarted("cpu", 1, 1, 1, 1, 2, "binary", 1), {})
    for epoch, acc in enumerate(accuracies, 1):
        store.record(trial_id, EpochEnded(epoch, epoch * 2, 1.0, 1.0 / epoch, acc, 0.1, 0.1, True))
    return trial_id


def test_rewinding_takes_the_highest_val_acc_from_the_epochs_kept(store: Store) -> None:
    trial_id = _trial_with_epochs(store, [0.6, 0.9, 0.7])
    assert store.trial(trial_id).max_val_acc == 0.9
    store.rewind(trial_id, 1, 2)
    rewound = store.trial(trial_id)
    assert (rewound.epochs_run, rewound.steps, rewound.max_val_acc) == (1, 2, 0.6)
    assert [row["epoch"] for row in store.epochs(trial_id)] == [1]
    # The resumed run logs a lower epoch 2: the highest is what it logged, not the forgotten 0.9.
    store.record(trial_id, EpochEnded(2, 4, 1.0, 0.4, 0.65, 0.1, 0.1, True))
    assert store.trial(trial_id).max_val_acc == 0.65


def test_starting_over_forgets_the_highest_val_acc(store: Store) -> None:
    trial_id = _trial_with_epochs(store, [0.6, 0.9])
    store.rewind(trial_id, 0, 0)
    assert store.trial(trial_id).max_val_acc is None
