"""What the checkpoint tests share: tiny seeded toy2d configs, training a trial into a store (and
stopping it at a chosen point), and reading back what a trial logged and which files it left."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.events import EpochEnded, Event, StepLoss, StopSignal, TrialFinished
from engine.execution.runner import TrialRun
from engine.store import Store

EPOCHS = 6
TOLERANCE = 1e-6
# What a resumed trial's curve must reproduce: its stored epochs (the seconds aside) and its summary.
CURVE = ("epoch", "step", "train_loss", "val_loss", "val_acc", "lr")
SUMMARY = ("best_epoch", "best_val_loss", "val_acc_at_best", "test_loss", "test_acc", "epochs_run", "steps", "max_val_acc")


def toy(**dotted: Any) -> Config:
    """A seeded toy2d trial of 6 epochs of 9 steps, with dropout, a cosine schedule and a checkpoint
    after every epoch: the RNG and the scheduler's state both matter to what comes after a resume."""
    base = {"name": "ckpt", "task": {"name": "toy2d", "n_samples": 400}, "model": {"hidden": [16]},
            "optim": {"max_epochs": EPOCHS, "batch_size": 32, "lr": 0.05, "scheduler": "cosine"},
            "reg": {"dropout": 0.3}, "run": {"device": "cpu", "seed": 3, "log_every": 1, "checkpoint_every": 0.0}}
    return Config.from_dict(base).with_updates(dotted)


@dataclass
class Ran:
    trial_id: int
    events: list[Event] = field(default_factory=list)
    finished: TrialFinished | None = None
    resumed_from: int | None = None

    @property
    def epochs(self) -> list[EpochEnded]:
        return [e for e in self.events if isinstance(e, EpochEnded)]


def run(store: Store, config: Config, *, trial_id: int | None = None, stop_at_epoch: int | None = None,
        stop_at_step: int | None = None, sweep_id: int | None = None) -> Ran:
    """Train a trial through TrialRun (a queued one when `trial_id` is given), optionally cancelling
    it when epoch `stop_at_epoch` has ended, or when step `stop_at_step` is logged (mid-epoch)."""
    signal = StopSignal()
    trial = TrialRun(store, config, cancel=signal, trial_id=trial_id, sweep_id=sweep_id)
    ran = Ran(trial.trial_id)
    for event in trial:
        ran.events.append(event)
        if isinstance(event, EpochEnded) and event.epoch == stop_at_epoch:
            signal.set()
        if isinstance(event, StepLoss) and event.step == stop_at_step:
            signal.set()
    ran.finished, ran.resumed_from = trial.finished, trial.resumed_from
    return ran


def curve(store: Store, trial_id: int) -> list[tuple]:
    return [tuple(row[k] for k in CURVE) for row in store.epochs(trial_id)]


def step_losses(store: Store, trial_id: int) -> list[tuple[int, int, float | None]]:
    return [(epoch, step, value) for _, epoch, step, _, value in store.history([trial_id], metric="step_loss")]


def summary(store: Store, trial_id: int) -> tuple:
    record = store.trial(trial_id)
    return tuple(getattr(record, k) for k in SUMMARY)


def assert_close(got: Any, want: Any, what: str) -> None:
    """Equal, numbers within TOLERANCE (nested tuples and lists compared item by item)."""
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), f"{what}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{what}[{i}]")
    elif isinstance(want, float) and isinstance(got, (int, float)):
        assert abs(got - want) <= TOLERANCE, f"{what}: {got!r} != {want!r}"
    else:
        assert got == want, f"{what}: {got!r} != {want!r}"


def files(folder: Path) -> set[Path]:
    """Every file under a folder (hidden and temporary ones too)."""
    return {p for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


def kinds(store: Store, trial_id: int) -> dict[str, list[int]]:
    """The epochs of a trial's recorded checkpoints, by kind (newest first)."""
    out: dict[str, list[int]] = {}
    for record in store.checkpoints(trial_id):
        out.setdefault(record.kind, []).append(record.epoch)
    return out
