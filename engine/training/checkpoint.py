"""What a checkpoint holds, and when the loop writes one: everything needed to continue exactly.

A `last` checkpoint is the state at the end of an epoch, after the scheduler stepped: the model,
optimizer, scheduler and GradScaler, the random states (torch's CPU and CUDA generators, which
dropout draws from, and the shuffling generator), the epoch and step, the early-stopping state
(best score, best epoch, stale count, best weights) and the config. Loaded back into a freshly
prepared trial, the next epoch draws the same batches and the same dropout masks as it would have,
so a resumed trial's curve continues the uninterrupted one to the last digit on a CPU.

A `best` checkpoint is the model's weights at the monitored metric's best epoch, for export.

Writing costs time (a 10 M-parameter model with Adam is about 160 MB, 0.2-0.4 s here), so both
are throttled to at most one every `run.checkpoint_every` seconds (default 30: about 1 % for a
10 M model, docs/performance.md), stretched for a model whose writes take longer so that writing
stays under 3 % of the time; the best one is also written when the trial ends, so it is never
stale. The loop knows nothing of files or the store: it hands payloads to
`write(kind, payload, epoch)`, which the caller (engine.execution.checkpoints) provides.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import torch

FORMAT_VERSION = 1
LAST, BEST = "last", "best"
WRITE_SHARE_LIMIT = 0.03  # of the training time, at most, spent writing checkpoints (when throttled)
Write = Callable[[str, dict[str, Any], int], None]


class CheckpointError(Exception):
    """A checkpoint cannot be used (a newer format, or not what it claims to be)."""


class Checkpointer:
    """Told after every epoch and at the end; writes `last` and `best` through `write`, throttled."""

    def __init__(self, mode: str, every: float, write: Write, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.mode = mode
        self.every = every
        self._write = write
        self._clock = clock
        # The first write waits `every` seconds too: a short trial pays no write it does not need (its
        # best is still written when it ends), at the price of nothing to resume before `every`.
        start = clock() if every > 0 else None
        self._last_at: float | None = start
        self._best_at: float | None = start
        self._write_seconds = 0.0  # the slowest write so far
        self._best_written: int | None = None  # the epoch of the best weights on disk
        self._best_epoch: int | None = None
        self._best_weights: dict[str, torch.Tensor] | None = None  # kept here when the loop does not keep them

    @property
    def wants_last(self) -> bool:
        return self.mode in ("both", "last")

    @property
    def wants_best(self) -> bool:
        return self.mode in ("both", "best")

    def _due(self, at: float | None) -> bool:
        """Time for a write: `every` seconds passed, and (unless every epoch was asked for) at least
        WRITE_SHARE_LIMIT's worth of the time a write takes, so that a model too large for `every`
        still spends at most ~3 % of its time writing checkpoints."""
        if at is None:
            return True
        interval = max(self.every, self._write_seconds / WRITE_SHARE_LIMIT) if self.every > 0 else 0.0
        return self._clock() - at >= interval

    def _timed(self, kind: str, payload: dict[str, Any], epoch: int) -> None:
        started = self._clock()
        self._write(kind, payload, epoch)
        self._write_seconds = max(self._write_seconds, self._clock() - started)

    def after_epoch(self, setup: Any, progress: Any, gen: torch.Generator, scaler: Any, improved: bool) -> None:
        """At the end of an epoch, after the scheduler stepped (the state the next epoch starts from)."""
        self._best_epoch = progress.best_epoch
        if self.wants_best and improved:
            if progress.best_state is None:  # the loop keeps them only to restore them; we need them
                self._best_weights = copy.deepcopy(setup.model.state_dict())
        if self.wants_last and self._due(self._last_at):
            self._timed(LAST, full_state(setup, progress, gen, scaler), progress.epochs_done)
            self._last_at = self._clock()
        if self.wants_best and self._best_epoch != self._best_written and self._due(self._best_at):
            self._flush_best(setup, progress)

    def at_end(self, setup: Any, progress: Any) -> None:
        """The trial ended by itself: its best weights are written whatever the throttle says."""
        self._best_epoch = progress.best_epoch
        if self.wants_best and self._best_epoch is not None and self._best_epoch != self._best_written:
            self._flush_best(setup, progress)

    def _flush_best(self, setup: Any, progress: Any) -> None:
        weights = progress.best_state if progress.best_state is not None else self._best_weights
        if weights is None and progress.best_epoch == progress.epochs_done:
            weights = setup.model.state_dict()  # the best epoch is the one that just ended
        if weights is None:
            return
        payload = {"format": FORMAT_VERSION, "kind": BEST, "epoch": self._best_epoch, "model": weights,
                   "config": setup.config.to_dict(), "best_val_loss": progress.best_val_loss,
                   "val_acc_at_best": progress.val_acc_at_best, "shape": shape_of(setup)}
        assert self._best_epoch is not None
        self._timed(BEST, payload, self._best_epoch)
        self._best_written, self._best_at = self._best_epoch, self._clock()


def shape_of(setup: Any) -> dict[str, Any]:
    """What rebuilding the model needs besides the config: the task's shapes and the loss it chose."""
    data = setup.data
    return {"problem": data.problem, "input_shape": list(data.input_shape), "n_classes": data.n_classes,
            "out_features": data.out_features, "loss": setup.loss_name, "task_model": data.model is not None}


def full_state(setup: Any, progress: Any, gen: torch.Generator, scaler: Any) -> dict[str, Any]:
    """The `last` payload: tensors, numbers, strings, lists and dicts only (loadable with weights_only)."""
    cuda = [state for state in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else []
    return {
        "format": FORMAT_VERSION, "kind": LAST, "epoch": progress.epochs_done, "step": progress.step,
        "config": setup.config.to_dict(), "shape": shape_of(setup),
        "model": setup.model.state_dict(),
        "optimizer": setup.optimizer.state_dict(),
        "scheduler": setup.scheduler.state_dict() if setup.scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": {"torch": torch.get_rng_state(), "cuda": cuda, "shuffle": gen.get_state()},
        "early_stop": {"best_epoch": progress.best_epoch, "best_val_loss": progress.best_val_loss,
                       "val_acc_at_best": progress.val_acc_at_best, "max_val_acc": progress.max_val_acc,
                       "best_score": progress.best_score,
                       "stale_epochs": progress.stale_epochs, "best_state": progress.best_state},
        "elapsed": time.perf_counter() - progress.started + progress.earlier_seconds,
    }


def restore(setup: Any, progress: Any, gen: torch.Generator, scaler: Any, state: dict[str, Any]) -> None:
    """Put a prepared trial back where a `last` checkpoint left it; raises CheckpointError if it cannot."""
    if not isinstance(state, dict) or state.get("kind") != LAST:
        raise CheckpointError("not a `last` checkpoint")
    if int(state.get("format", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"written in checkpoint format {state['format']}, newer than this tunedeck "
                              f"reads ({FORMAT_VERSION}); upgrade tunedeck")
    try:
        setup.model.load_state_dict(state["model"])
        setup.optimizer.load_state_dict(state["optimizer"])
        if setup.scheduler is not None and state.get("scheduler") is not None:
            setup.scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if rng.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        gen.set_state(rng["shuffle"])
        es = state["early_stop"]
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"does not fit this trial's model: {exc}") from None
    progress.epoch = progress.epochs_done = int(state["epoch"])
    progress.step = int(state["step"])
    progress.best_epoch, progress.best_val_loss = es["best_epoch"], es["best_val_loss"]
    progress.val_acc_at_best = es["val_acc_at_best"] if "val_acc_at_best" in es else es["best_val_acc"]  # older name
    progress.max_val_acc, progress.best_score = es.get("max_val_acc"), es["best_score"]
    progress.stale_epochs, progress.best_state = int(es["stale_epochs"]), es["best_state"]
    progress.earlier_seconds = float(state.get("elapsed", 0.0))
    progress.resumed_from = progress.epochs_done
