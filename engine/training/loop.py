"""The training loop: a generator of events, one straight loop in the manner of nanoGPT.

`train(config)` yields TrialStarted, StepLoss (at a bounded rate), EpochEnded and finally one
TrialFinished whose state says how it ended. It never raises for a problem in the trial itself:
bad data, user-code exceptions, NaNs and cancellation all end as a TrialFinished. The caller owns
storing and showing the events; a `threading.Event` passed as `cancel` stops it within one batch
(a `StopSignal` can also say it ends pruned, and why).
"""
from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from engine.config.groups import Config
from engine.errors import TaskError, TunedeckError
from engine.events import EpochEnded, Event, StepLoss, StopSignal, Summary, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.tasks import build_task
from engine.tasks.base import TaskData, split_sizes
from engine.training.batches import count_batches, iter_batches, to_device
from engine.training.checkpoint import Checkpointer, CheckpointError, restore
from engine.training.device import check_precision, choose_threads, resolve_device
from engine.training.losses import build_loss, correct_count, l1_penalty, resolve_loss_name
from engine.training.models import build_model, count_parameters
from engine.training.optimizers import LrSchedule, build_optimizer, build_schedule, current_lr

STEP_LOGS_PER_EPOCH = 50


@dataclass
class Setup:
    """Everything built before the first step; building it is where bad input shows up."""

    config: Config
    data: TaskData
    device: torch.device
    model: torch.nn.Module
    loss_fn: Any
    optimizer: torch.optim.Optimizer
    scheduler: LrSchedule  # warm-up and scheduler: told before every step and after every epoch
    amp_dtype: torch.dtype | None
    threads: int
    steps_per_epoch: int
    loss_name: str = ""
    eval_loss_fn: Any = None  # the loss without label smoothing, for val and test (loss_fn when None)


@dataclass
class Progress:
    """What the loop knows so far; read by the error path to report the best epoch reached."""

    epoch: int = 0  # the epoch in progress
    epochs_done: int = 0
    step: int = 0
    best_epoch: int | None = None
    best_val_loss: float | None = None
    val_acc_at_best: float | None = None
    max_val_acc: float | None = None
    best_score: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    stale_epochs: int = 0
    test_loss: float | None = None
    test_acc: float | None = None
    started: float = field(default_factory=time.perf_counter)
    earlier_seconds: float = 0.0  # trained before a resume
    resumed_from: int | None = None  # the epoch a resumed trial went on from

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started + self.earlier_seconds

    def summary(self) -> Summary:
        return Summary(self.best_epoch, self.best_val_loss, self.val_acc_at_best, self.test_loss, self.test_acc,
                       self.epochs_done, self.step, self.max_val_acc)


def prepare(config: Config, data: TaskData | None = None) -> Setup:
    """Build data, model, loss and optimizer; raises TunedeckError for input that cannot run."""
    device = resolve_device(config.run.device)
    amp_dtype = check_precision(config, device)
    torch.manual_seed(config.run.seed)
    if data is None:
        data = build_task(config)
    for name, size in zip(("train", "val", "test"), split_sizes(data)):
        if size == 0:
            raise TaskError(f"task {config.task_label}: the {name} split is empty")
    loss_name = resolve_loss_name(config, data)
    torch.manual_seed(config.run.seed)  # the model's initial weights do not depend on the task's draws
    model = build_model(config, data, loss_name)
    threads = choose_threads(config, count_parameters(model))
    torch.set_num_threads(threads)
    model.to(device)
    loss_fn = build_loss(config, data, loss_name, device)
    eval_loss_fn = build_loss(config, data, loss_name, device, smoothed=False)
    optimizer = build_optimizer(config, model.parameters())
    steps = count_batches(data.train, config.optim.batch_size)
    scheduler = build_schedule(config, optimizer, steps)
    for name in ("train", "val", "test"):
        setattr(data, name, to_device(getattr(data, name), device))
    return Setup(config, data, device, model, loss_fn, optimizer, scheduler, amp_dtype, threads, steps, loss_name,
                 eval_loss_fn)


def train(config: Config, cancel: threading.Event | None = None, data: TaskData | None = None,
          setup: Setup | None = None, checkpoints: Checkpointer | None = None,
          resume: dict[str, Any] | None = None) -> Iterator[Event]:
    """Run one trial, yielding its events; the last one is always a TrialFinished.

    `setup` is a `prepare(config)` done earlier (the CLI prepares first, to reject bad data before
    recording a trial); `data` is a task's data built earlier; `checkpoints` is told after every
    epoch (engine.training.checkpoint); `resume` is a `last` checkpoint's payload to go on from.
    """
    progress = Progress()
    cancel = cancel or threading.Event()
    try:
        setup = setup or prepare(config, data)
        n_train, n_val, n_test = split_sizes(setup.data)
        yield TrialStarted(str(setup.device), count_parameters(setup.model), n_train, n_val, n_test,
                           setup.steps_per_epoch, setup.data.problem, setup.threads, dict(setup.data.info))
        yield from _fit(setup, cancel, progress, checkpoints, resume)
    except CheckpointError as exc:
        yield _finished(progress, TrialState.FAILED, f"cannot resume from its checkpoint: {exc}")
    except TunedeckError as exc:
        yield _finished(progress, TrialState.FAILED, str(exc))
    except Exception as exc:  # user code (plugin tasks and models) may raise anything
        yield _finished(progress, TrialState.FAILED, f"{type(exc).__name__}: {exc}", traceback.format_exc())


def no_batches(config: Config, split: str) -> TaskError:
    """The error for a split that yielded no batch (a plugin's empty loader): the loop and the lr probe say it alike."""
    return TaskError(f"task {config.task_label}: the {split} split gave no batches")


def _finished(progress: Progress, state: TrialState, reason: str, error: str | None = None) -> TrialFinished:
    return TrialFinished(state, reason, progress.summary(), progress.seconds, error)


def _fit(s: Setup, cancel: threading.Event, p: Progress, checkpoints: Checkpointer | None,
         resume: dict[str, Any] | None) -> Iterator[Event]:
    c = s.config
    gen = torch.Generator().manual_seed(c.run.seed)
    torch.manual_seed(c.run.seed)  # dropout draws from the global generator: pin it where training starts
    log_every = c.run.log_every or max(1, math.ceil(s.steps_per_epoch / STEP_LOGS_PER_EPOCH))
    scaler = new_scaler(s)
    if resume is not None:
        restore(s, p, gen, scaler, resume)
    for epoch in range(p.epochs_done + 1, c.optim.max_epochs + 1):
        p.epoch = epoch
        epoch_start = time.perf_counter()
        s.model.train()
        loss_sum = torch.zeros((), device=s.device)
        seen = 0
        for x, y in iter_batches(s.data.train, c.optim.batch_size, gen, s.device):
            if cancel.is_set():
                if isinstance(cancel, StopSignal) and cancel.reason:
                    yield _finished(p, cancel.state, cancel.reason)
                else:
                    yield _finished(p, TrialState.CANCELLED, f"cancelled by the user at epoch {epoch}, step {p.step}")
                return
            p.step += 1
            s.scheduler.before_step(p.step)
            loss = train_step(s, x, y, scaler)
            batch = int(y.shape[0])
            loss_sum += loss.detach() * batch
            seen += batch
            if p.step % log_every == 0:
                value = loss.item()
                if not math.isfinite(value):
                    yield _diverged(p, value, epoch)
                    return
                yield StepLoss(epoch, p.step, value)
        if seen == 0:
            raise no_batches(c, "train")
        train_loss = (loss_sum / seen).item()
        if not math.isfinite(train_loss):
            yield _diverged(p, train_loss, epoch)
            return
        val_loss, val_acc = evaluate(s, s.data.val, "val")
        if not math.isfinite(val_loss):
            yield _diverged(p, val_loss, epoch, what="val loss")
            return
        lr = current_lr(s.optimizer)
        improved = _note_epoch(s, p, epoch, val_loss, val_acc)
        p.epochs_done = epoch
        yield EpochEnded(epoch, p.step, train_loss, val_loss, val_acc, lr, time.perf_counter() - epoch_start,
                         improved)
        s.scheduler.after_epoch(p.step, val_loss)
        if c.early_stop.patience and p.stale_epochs >= c.early_stop.patience:
            reason = _early_stop_reason(s, p)
            if checkpoints is not None:
                checkpoints.at_end(s, p)
            _finish_with_test(s, p)
            yield _finished(p, TrialState.EARLY_STOPPED, reason)
            return
        if checkpoints is not None:
            checkpoints.after_epoch(s, p, gen, scaler, improved)
    reason = f"ran all {c.optim.max_epochs} epochs; best {_best_text(s, p)}"
    if checkpoints is not None:
        checkpoints.at_end(s, p)
    _finish_with_test(s, p)
    yield _finished(p, TrialState.COMPLETED, reason + (", weights restored" if _restores(s, p) else ""))


def train_step(s: Setup, x: torch.Tensor, y: torch.Tensor, scaler: torch.amp.GradScaler | None) -> torch.Tensor:
    """One optimizer step on a batch, as every trial takes it (L1 term, AMP scaling, clipping); the loss
    without the L1 term (the learning-rate probe takes its steps here too)."""
    c = s.config
    with _autocast(s):
        loss = s.loss_fn(s.model(x), y)
        objective = loss + c.reg.l1 * l1_penalty(s.model) if c.reg.l1 > 0 else loss
    s.optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(objective).backward()
        scaler.unscale_(s.optimizer)
    else:
        objective.backward()
    if c.optim.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(s.model.parameters(), c.optim.grad_clip)
    if scaler is not None:
        scaler.step(s.optimizer)
        scaler.update()
    else:
        s.optimizer.step()
    return loss


def new_scaler(s: Setup) -> torch.amp.GradScaler | None:
    """The gradient scaler float16 mixed precision needs (None otherwise)."""
    return torch.amp.GradScaler("cuda") if s.amp_dtype == torch.float16 else None


def _autocast(s: Setup) -> contextlib.AbstractContextManager:
    if s.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=s.device.type, dtype=s.amp_dtype)


def _diverged(p: Progress, value: float, epoch: int, what: str = "train loss") -> TrialFinished:
    return _finished(p, TrialState.DIVERGED, f"{what} became {value} at epoch {epoch}, step {p.step}")


def _note_epoch(s: Setup, p: Progress, epoch: int, val_loss: float, val_acc: float | None) -> bool:
    """Track the best epoch by the monitored metric; keep its weights when they will be restored."""
    es = s.config.early_stop
    score = val_loss if es.monitor == "val_loss" or val_acc is None else -val_acc
    improved = p.best_score is None or score < p.best_score - es.min_delta
    if val_acc is not None and (p.max_val_acc is None or val_acc > p.max_val_acc):
        p.max_val_acc = val_acc
    if improved:
        p.best_score, p.best_epoch, p.best_val_loss, p.val_acc_at_best = score, epoch, val_loss, val_acc
        p.stale_epochs = 0
        if es.restore_best:
            p.best_state = copy.deepcopy(s.model.state_dict())
    else:
        p.stale_epochs += 1
    return improved


def _best_text(s: Setup, p: Progress) -> str:
    if s.config.early_stop.monitor == "val_acc" and p.val_acc_at_best is not None:
        return f"val_acc {p.val_acc_at_best:.4f} at epoch {p.best_epoch}"
    return f"val_loss {p.best_val_loss:.4g} at epoch {p.best_epoch}"


def _early_stop_reason(s: Setup, p: Progress) -> str:
    es = s.config.early_stop
    restored = ", weights restored" if _restores(s, p) else ""
    return (f"{es.monitor} did not improve by more than {es.min_delta:g} for {es.patience} epochs "
            f"(patience {es.patience}); best {_best_text(s, p)}{restored}")


def _restores(s: Setup, p: Progress) -> bool:
    return s.config.early_stop.restore_best and p.best_state is not None and p.best_epoch != p.epoch


def _finish_with_test(s: Setup, p: Progress) -> None:
    """Restore the best weights (when asked) and score the test split with them."""
    if s.config.early_stop.restore_best and p.best_state is not None:
        s.model.load_state_dict(p.best_state)
    p.test_loss, p.test_acc = evaluate(s, s.data.test, "test")


@torch.no_grad()
def evaluate(s: Setup, split: Any, name: str = "given") -> tuple[float, float | None]:
    """Mean loss (without the L1 term and without label smoothing) and accuracy for classification, in
    eval mode."""
    s.model.eval()
    loss_fn = s.eval_loss_fn or s.loss_fn
    total = torch.zeros((), device=s.device)
    correct = torch.zeros((), device=s.device, dtype=torch.long)
    n = 0
    batch_size = max(s.config.optim.batch_size, 1024)
    for x, y in iter_batches(split, batch_size, None, s.device):
        with _autocast(s):
            logits = s.model(x)
            loss = loss_fn(logits, y)
        total += loss.float() * y.shape[0]
        if s.data.is_classification:
            correct += correct_count(logits, y)
        n += int(y.shape[0])
    s.model.train()
    if n == 0:
        raise no_batches(s.config, name)
    acc = correct.item() / n if s.data.is_classification else None
    return (total / n).item(), acc
