"""The learning-rate range test (Leslie Smith's; Lightning's `lr_find`): which rate to start tuning from.

The model, data, loss and optimizer are built exactly as a trial builds them (`loop.prepare`) and
each step is a trial's step (`loop.train_step`); only the rate changes, rising exponentially from
`start` to `end` over `steps` optimizer steps, one batch each (the train split over again if it
runs out). The loss is smoothed with a bias-corrected moving average; the ramp stops once the
smoothed loss rises above its lowest by more than DIVERGE_FACTOR times its fall so far (`Watch`: sign-free,
so a negative loss is judged as a positive one is), or a loss is NaN or infinite. The suggestion
(`suggest`) lies midway, on the log scale, between where the smoothed loss falls fastest (a
least-squares slope over SLOPE_WINDOW decades, so a few noisy batches cannot pass for the fall) and its
minimum, both between the warm-up (the first tenth of the steps) and the divergence, so that a rate past
the minimum, or one where the loss diverged, is never suggested. Nothing is stored: the probe is not a trial.
"""
from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.config.groups import SCRIPT_TASK, Config
from engine.errors import ConfigError, TaskError, TunedeckError

if TYPE_CHECKING:  # torch is imported when a probe runs, not with the settings (the CLI's parser reads them)
    from engine.tasks.base import TaskData
    from engine.training.loop import Setup

DEFAULT_START = 1e-7
DEFAULT_END = 10.0
DEFAULT_STEPS = 200
MIN_STEPS = 10
MAX_STEPS = 100_000
MAX_RATE = 1e6
SMOOTHING = 0.95  # the moving average's beta: about the last twenty steps weigh in
DIVERGE_FACTOR = 4.0
FALL_FLOOR = 0.1  # of the loss's size: the least fall `rise_limit` measures a rise against
TINY = 1e-12
SLOPE_WINDOW = 0.75  # decades of rate either side of a point: its slope is a least-squares fit over them
SIGNIFICANT_FALL = 0.25  # of the loss's range: the least fall across the steepest window that counts
SKIP_FRACTION = 0.1  # of the steps: the warm-up (`warmup_steps`)


@dataclass(frozen=True)
class ProbeSettings:
    """The ramp: `steps` rates from `start` to `end`, evenly spaced on a log scale."""

    start: float = DEFAULT_START
    end: float = DEFAULT_END
    steps: int = DEFAULT_STEPS

    def __post_init__(self) -> None:
        for key in ("start", "end"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError("must be a finite number", key=f"lr_find.{key}", value=value)
            if not 0 < value <= MAX_RATE:
                raise ConfigError(f"must be > 0 and <= {MAX_RATE:g}", key=f"lr_find.{key}", value=value)
        if self.start >= self.end:
            raise ConfigError(f"`start < end` must hold, got start={self.start:g}, end={self.end:g}",
                              key="lr_find.start")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not MIN_STEPS <= self.steps <= MAX_STEPS:
            raise ConfigError(f"must be an integer from {MIN_STEPS} to {MAX_STEPS:,}", key="lr_find.steps",
                              value=self.steps)

    def rates(self) -> list[float]:
        ratio = self.end / self.start
        return [self.start * ratio ** (i / (self.steps - 1)) for i in range(self.steps)]


@dataclass(frozen=True)
class ProbePoint:
    """One step of the ramp: the rate it took, its loss (without the L1 term) and the smoothed loss."""

    lr: float
    loss: float
    smoothed: float


@dataclass(frozen=True)
class LrFinding:
    """What the ramp showed. `points` end at the first diverging step (kept when its loss is finite);
    `suggested` is None with `reason` saying why when the loss fell nowhere before it diverged."""

    settings: ProbeSettings
    points: tuple[ProbePoint, ...]
    suggested: float | None
    suggested_index: int | None
    diverged_at: float | None  # the rate at which the ramp stopped (`Watch`)
    lowest_at: float | None  # the rate of the smoothed loss's minimum after the warm-up
    reason: str

    @property
    def finite_points(self) -> list[ProbePoint]:
        return [p for p in self.points if math.isfinite(p.loss) and math.isfinite(p.smoothed)]


def warmup_steps(steps: int) -> int:
    """The first steps of a ramp, whose average rests on a few noisy batches: they set no minimum and
    give no suggestion (a NaN among them still ends the ramp)."""
    return max(2, int(steps * SKIP_FRACTION))


class Watch:
    """The ramp's stopping rule, applied point by point: a loss that is not finite, or after the warm-up a
    smoothed loss that rose above the lowest one since the warm-up by more than DIVERGE_FACTOR x the fall
    from the first settled point to that lowest (`rise_limit`). It looks at differences only, so a loss
    that is negative or near zero is judged as a positive one is."""

    def __init__(self, steps: int) -> None:
        self.skip = warmup_steps(steps)
        self.first: float | None = None
        self.lowest: float | None = None
        self.seen = 0

    def diverges(self, point: ProbePoint) -> bool:
        index, self.seen = self.seen, self.seen + 1
        if not (math.isfinite(point.loss) and math.isfinite(point.smoothed)):
            return True
        if index < self.skip:
            return False
        if self.first is None or self.lowest is None:
            self.first = self.lowest = point.smoothed
            return False
        if point.smoothed - self.lowest > rise_limit(self.first, self.lowest):
            return True
        self.lowest = min(self.lowest, point.smoothed)
        return False


def rise_limit(first: float, lowest: float) -> float:
    """How far above its lowest the smoothed loss may rise before the ramp counts as diverged: DIVERGE_FACTOR
    x its fall so far, and never less than DIVERGE_FACTOR x FALL_FLOOR of its size (a loss that has not fallen
    yet may still wobble)."""
    floor = FALL_FLOOR * max(abs(first), abs(lowest), TINY)
    return DIVERGE_FACTOR * max(first - lowest, floor)


def ramp(s: Setup, settings: ProbeSettings, cancel: threading.Event | None = None) -> Iterator[ProbePoint]:
    """Take the ramp's steps on a prepared trial (`loop.prepare`), yielding each point; stops after the
    first point that `diverges`, or when `cancel` is set."""
    import torch

    from engine.training.batches import iter_batches
    from engine.training.loop import new_scaler, train_step

    gen = torch.Generator().manual_seed(s.config.run.seed)
    torch.manual_seed(s.config.run.seed)
    scaler = new_scaler(s)
    s.model.train()
    batches = _endless(lambda: iter_batches(s.data.train, s.config.optim.batch_size, gen, s.device), s.config)
    average, watch = 0.0, Watch(settings.steps)
    for i, lr in enumerate(settings.rates()):
        if cancel is not None and cancel.is_set():
            return
        for group in s.optimizer.param_groups:
            group["lr"] = lr
        x, y = next(batches)
        loss = float(train_step(s, x, y, scaler).item())
        if math.isfinite(loss):
            average = SMOOTHING * average + (1 - SMOOTHING) * loss
            smoothed = average / (1 - SMOOTHING ** (i + 1))
        else:
            smoothed = math.nan
        point = ProbePoint(lr, loss, smoothed)
        yield point
        if watch.diverges(point):
            return


def _endless(batches: Callable[[], Iterable[Any]], config: Config) -> Iterator[Any]:
    """The train split's batches, again and again (a ramp may be longer than an epoch)."""
    while True:
        empty = True
        for batch in batches():
            empty = False
            yield batch
        if empty:
            from engine.training.loop import no_batches

            raise no_batches(config, "train")


def suggest(points: Sequence[ProbePoint], steps: int) -> tuple[int | None, str]:
    """The index midway, on the log-rate scale, between the steepest fall of the smoothed loss and its minimum
    (both after the warm-up and before the ramp diverged); None, and why, when the loss never fell clearly.

    The slope at a point is a least-squares fit over SLOPE_WINDOW decades either side, so a wobble of a few
    noisy batches cannot pass for the fall; the fall across that window must be at least SIGNIFICANT_FALL of
    the smoothed loss's range. The steepest point is where the loss starts to drop, the minimum is past the
    best rate; halfway between them is the valley a training run does well at."""
    usable = before_divergence(points, steps)
    first = warmup_steps(steps)
    if len(usable) <= first + 1:
        return None, (f"the loss diverged after {len(usable)} step(s), too soon to tell where it falls: lower the "
                      "ramp's start or check the model")
    x = [math.log10(p.lr) for p in usable]
    y = [p.smoothed for p in usable]
    lowest = min(range(first, len(usable)), key=y.__getitem__)
    loss_range = max(y[first:lowest + 1]) - y[lowest]
    slopes = dict(zip(range(first, lowest + 1), _slopes(x[first:], y[first:], lowest + 1 - first), strict=True))
    steepest = min(slopes, key=slopes.__getitem__)
    fall = -slopes[steepest] * 2 * SLOPE_WINDOW
    if loss_range <= 0 or fall < SIGNIFICANT_FALL * loss_range:
        return None, ("the smoothed loss never fell clearly after the warm-up: lower the ramp's start, or check "
                      "that the model can learn")
    index = round((steepest + lowest) / 2)  # the rates are evenly spaced in log(rate)
    return index, (f"midway between the steepest fall of the smoothed loss ({slopes[steepest]:.3g} per decade "
                   f"at lr {usable[steepest].lr:.3g}) and its minimum")


def _slopes(x: Sequence[float], y: Sequence[float], count: int) -> list[float]:
    """The least-squares slope of y against x (ascending) at each of the first `count` points, over the points
    within SLOPE_WINDOW of it; running sums keep a ramp of 100,000 steps linear."""
    sx, sy, sxx, sxy = [0.0], [0.0], [0.0], [0.0]
    for xi, yi in zip(x, y, strict=True):
        sx.append(sx[-1] + xi)
        sy.append(sy[-1] + yi)
        sxx.append(sxx[-1] + xi * xi)
        sxy.append(sxy[-1] + xi * yi)
    out = []
    for i in range(count):
        lo, hi = bisect_left(x, x[i] - SLOPE_WINDOW), bisect_right(x, x[i] + SLOPE_WINDOW)
        n = hi - lo
        mx, my = (sx[hi] - sx[lo]) / n, (sy[hi] - sy[lo]) / n
        var = (sxx[hi] - sxx[lo]) / n - mx * mx
        out.append(((sxy[hi] - sxy[lo]) / n - mx * my) / var if n > 1 and var > TINY else 0.0)
    return out


def before_divergence(points: Sequence[ProbePoint], steps: int) -> list[ProbePoint]:
    """The points before the first one the stopping rule ends the ramp at (all of them if none)."""
    watch = Watch(steps)
    for i, point in enumerate(points):
        if watch.diverges(point):
            return list(points[:i])
    return list(points)


def summarize(settings: ProbeSettings, points: Sequence[ProbePoint]) -> LrFinding:
    """The finding from a ramp's points: the suggestion, the minimum and where it diverged."""
    usable = before_divergence(points, settings.steps)
    diverged_at = points[len(usable)].lr if len(usable) < len(points) else None
    settled = usable[warmup_steps(settings.steps):]
    lowest_at = min(settled, key=lambda p: p.smoothed).lr if settled else None
    index, why = suggest(points, settings.steps)
    if diverged_at is not None:
        what = "a NaN or infinite loss" if not math.isfinite(points[len(usable)].loss) else (
            f"smoothed loss rose over {DIVERGE_FACTOR:g}x its fall above its minimum")
        ended = f"diverged at lr {diverged_at:.3g} ({what}) after {len(points)} step(s)"
    else:
        ended = f"ran all {len(points)} step(s) without diverging"
    suggested = points[index].lr if index is not None else None
    return LrFinding(settings, tuple(points), suggested, index, diverged_at, lowest_at, f"{why}; {ended}")


def run_probe(config: Config, settings: ProbeSettings | None = None, cancel: threading.Event | None = None,
              data: TaskData | None = None, points: list[ProbePoint] | None = None) -> LrFinding:
    """Build the trial the config describes and run the range test on it; nothing is stored.

    `points`, when given, gets each point appended as it comes (another thread may read it to show
    progress). Raises TunedeckError for input that cannot run (the message a trial would fail with),
    and for an error raised by the user's task or model code, named with its type.
    """
    from engine.training.loop import prepare

    settings = settings or ProbeSettings()
    if config.task.name == SCRIPT_TASK:
        raise ConfigError("the learning-rate probe steps tunedeck's own training loop; a script task trains in "
                          "its own process, so probe it there", key="task.name", value=SCRIPT_TASK)
    seen = points if points is not None else []
    try:
        with _torch_state_kept():
            setup = prepare(config, data)
            for point in ramp(setup, settings, cancel):
                seen.append(point)
    except TunedeckError:
        raise
    except Exception as exc:  # a plugin's task or model code may raise anything
        raise ProbeFailed(f"the learning-rate probe failed: {type(exc).__name__}: {exc}") from exc
    if not seen:
        raise TaskError("the learning-rate probe was stopped before its first step")
    return summarize(settings, seen)


class ProbeFailed(TaskError):
    """The user's task or model code raised inside the probe: the probe failed, the input was not bad."""

    exit_status = 1


@contextmanager
def _torch_state_kept() -> Iterator[None]:
    """Put back what a probe changes in the calling process: torch's thread count and the global random
    generators it seeds (CUDA's only where CUDA was already in use: reading them would start it)."""
    import torch

    threads = torch.get_num_threads()
    cpu = torch.random.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.random.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def describe(finding: LrFinding) -> str:
    """One line for a person: the suggestion (or that there is none), where the loss was lowest, and how
    the ramp ended, e.g. `suggested lr 0.0203 (steepest fall ...); lowest loss at lr 3.96; diverged ...`."""
    lowest = f"; lowest smoothed loss at lr {finding.lowest_at:.3g}" if finding.lowest_at is not None else ""
    if finding.suggested is None:
        return f"no suggestion: {finding.reason}{lowest}"
    why, _, ended = finding.reason.partition("; ")
    return f"suggested lr {finding.suggested:.3g} ({why}){lowest}; {ended}"
