"""A store filled with scripted trials (real Store, hand-made events), for UI tests about the UI."""
from __future__ import annotations

from pathlib import Path

from engine.config.groups import Config
from engine.config.presets import load_preset
from engine.events import EpochEnded, StepLoss, Summary, TrialFinished, TrialStarted, TrialState
from engine.store import Store

ENV = {"tunedeck": "0.1.0", "torch": "2.13.0", "python": "3.11", "hostname": "box", "device": "cpu", "pid": 1}


def scripted_trial(store: Store, config: Config, losses: list[float], state: TrialState, reason: str,
                   error: str | None = None) -> int:
    trial_id = store.create_trial(config)
    store.start_trial(trial_id, TrialStarted("cpu", 65, 700, 150, 150, 11, "binary", 1), ENV)
    best = min(range(len(losses)), key=losses.__getitem__) if losses else None
    for i, loss in enumerate(losses, 1):
        for k in range(1, 3):
            store.record(trial_id, StepLoss(i, (i - 1) * 11 + k * 5, loss * 1.3))
        store.record(trial_id, EpochEnded(i, i * 11, loss * 1.2, loss, 1 - loss / 2, config.optim.lr, 0.01,
                                          improved=(i - 1) == best))
    summary = Summary(best + 1 if best is not None else None, losses[best] if best is not None else None,
                      1 - losses[best] / 2 if best is not None else None, losses[best] * 1.1 if best is not None
                      else None, 0.9 if best is not None else None, len(losses), len(losses) * 11)
    store.record(trial_id, TrialFinished(state, reason, summary, 1.5 * len(losses), error))
    return trial_id


def scripted_store(path: Path) -> Store:
    """Four trials with different learning rates and ends: completed, early-stopped, failed, diverged."""
    store = Store(path)
    base = load_preset("toy2d-mlp")
    scripted_trial(store, base.with_updates({"optim.lr": 0.01}), [0.6, 0.4, 0.3, 0.25, 0.22],
                   TrialState.COMPLETED, "ran all 5 epochs; best val_loss 0.22 at epoch 5")
    scripted_trial(store, base.with_updates({"optim.lr": 0.001}), [0.7, 0.65, 0.6, 0.61, 0.62],
                   TrialState.EARLY_STOPPED, "val_loss did not improve for 2 epochs (patience 2)")
    scripted_trial(store, base.with_updates({"optim.lr": 0.1}), [0.5], TrialState.FAILED,
                   "ValueError: boom", error="Traceback (most recent call last):\nValueError: boom")
    scripted_trial(store, base.with_updates({"optim.lr": 3.0}), [0.9, 0.15], TrialState.DIVERGED,
                   "train loss became nan at epoch 3, step 25")
    return store
