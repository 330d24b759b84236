"""The learning-rate range test on the toy task, trained for real: where the suggestion lands and why."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.config.presets import load_preset
from engine.errors import ConfigError, TunedeckError
from engine.training.lr_probe import (
    SLOPE_WINDOW,
    SMOOTHING,
    LrFinding,
    ProbePoint,
    ProbeSettings,
    before_divergence,
    rise_limit,
    run_probe,
    summarize,
    warmup_steps,
)


@pytest.fixture(scope="module")
def toy() -> LrFinding:
    return run_probe(load_preset("toy2d-mlp"), ProbeSettings(start=1e-6, end=1e3, steps=150))


def test_the_ramp_is_exponential_inside_its_bounds_and_the_smoothing_is_the_moving_average_of_the_losses(
        toy: LrFinding) -> None:
    lrs = np.array([p.lr for p in toy.points])
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] <= 1e3 * (1 + 1e-9)
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, (1e3 / 1e-6) ** (1 / 149))  # equal steps on a log scale
    average, expected = 0.0, []
    for i, p in enumerate(toy.points):
        average = SMOOTHING * average + (1 - SMOOTHING) * p.loss
        expected.append(average / (1 - SMOOTHING ** (i + 1)))
    assert [p.smoothed for p in toy.points] == pytest.approx(expected)


def _ls_slopes(x: np.ndarray, s: np.ndarray, first: int) -> np.ndarray:
    """The least-squares slope at each point over SLOPE_WINDOW decades either side, computed here with polyfit."""
    out = np.zeros(len(x))
    for i in range(first, len(x)):
        near = np.arange(first, len(x))[np.abs(x[first:] - x[i]) <= SLOPE_WINDOW]
        out[i] = np.polyfit(x[near], s[near], 1)[0] if len(near) > 1 else 0.0
    return out


def test_the_suggestion_lies_midway_between_the_steepest_fall_and_the_minimum(toy: LrFinding) -> None:
    assert toy.suggested is not None and toy.suggested_index is not None
    usable = before_divergence(toy.points, 150)
    x = np.log10([p.lr for p in usable])
    s = np.array([p.smoothed for p in usable])
    first = warmup_steps(150)
    lowest = first + int(np.argmin(s[first:]))
    slopes = _ls_slopes(x, s, first)
    steepest = first + int(np.argmin(slopes[first:lowest + 1]))
    assert abs(toy.suggested_index - (steepest + lowest) / 2) <= 0.5
    assert toy.suggested == pytest.approx(usable[toy.suggested_index].lr)
    assert 1e-6 < usable[steepest].lr < toy.suggested < toy.lowest_at  # inside the ramp, short of the minimum
    # the raw loss does fall across the steepest window: the ten steps after it average well below the ten before
    raw = np.array([p.loss for p in toy.points])
    assert raw[steepest:steepest + 10].mean() < 0.8 * raw[steepest - 10:steepest].mean()


def test_a_diverging_rate_is_never_suggested(toy: LrFinding) -> None:
    # this ramp ends at lr 1000, where Adam on the toy task blows the loss up: the ramp stops there
    assert toy.diverged_at is not None
    last = toy.points[-1]
    assert last.lr == toy.diverged_at
    settled = [p.smoothed for p in toy.points[warmup_steps(150):-1]]
    assert not math.isfinite(last.loss) or last.smoothed - min(settled) > rise_limit(settled[0], min(settled))
    assert toy.suggested is not None and toy.suggested < toy.lowest_at < toy.diverged_at
    assert len(toy.points) < 150  # stopped early, once it diverged


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_on_the_noisy_curve_task_the_suggestion_is_a_rate_that_trains_well(seed: int) -> None:
    # batches of 8 noisy samples: the old two-point slope found its "steepest fall" in the flat start (1e-6)
    finding = run_probe(load_preset("curve", [f"run.seed={seed}", "run.device=cpu"]), ProbeSettings())
    assert finding.suggested is not None, finding.reason
    assert 1e-4 <= finding.suggested <= 1e-2, finding.reason


def test_a_short_training_at_the_curve_suggestion_beats_one_at_a_rate_from_the_flat_start() -> None:
    from engine.events import TrialFinished
    from engine.training.loop import train

    config = load_preset("curve", ["run.seed=0", "run.device=cpu", "optim.max_epochs=30"])
    suggested = run_probe(config, ProbeSettings()).suggested
    assert suggested is not None

    def best(lr: float) -> float:
        last = [e for e in train(config.with_updates({"optim.lr": lr})) if isinstance(e, TrialFinished)][-1]
        assert last.summary.best_val_loss is not None
        return last.summary.best_val_loss

    assert best(suggested) < 0.5 * best(4e-6)


def _points(smoothed: list[float]) -> list[ProbePoint]:
    """A synthetic ramp whose losses are its smoothed values (the rules read the smoothed loss)."""
    return [ProbePoint(1e-6 * 10 ** (i / 10), v, v) for i, v in enumerate(smoothed)]


def _falls_then(start: float, low: float, then: list[float], steps: int = 100) -> list[float]:
    fall = [float(v) for v in np.linspace(start, low, 60)]
    return fall + then + [then[-1]] * (steps - 60 - len(then))


CURVES = [(-1.0, -3.0), (1e-6, 1e-8), (0.5, -0.5), (2.0, 0.1)]


@pytest.mark.parametrize(("start", "low"), CURVES)
def test_a_loss_that_falls_and_levels_off_is_not_called_diverged_whatever_its_sign_or_size(
        start: float, low: float) -> None:
    # a wobble above the minimum (a tenth of the fall) is no divergence; the old `> 4 x lowest` called -1 -> -3 one
    finding = summarize(ProbeSettings(steps=100), _points(_falls_then(start, low, [low + 0.1 * (start - low)])))
    assert finding.diverged_at is None, finding.reason
    assert finding.suggested is not None and "ran all 100 step(s) without diverging" in finding.reason


@pytest.mark.parametrize(("start", "low"), CURVES)
def test_a_loss_that_climbs_far_above_its_fall_is_diverged_whatever_its_sign(start: float, low: float) -> None:
    climb = [low + k * (start - low) for k in (1.0, 3.0, 4.5, 9.0)]
    finding = summarize(ProbeSettings(steps=100), _points(_falls_then(start, low, climb)))
    assert finding.diverged_at == pytest.approx(1e-6 * 10 ** 6.2)  # the step at 4.5x the fall above the minimum
    assert finding.suggested is not None and finding.suggested < finding.diverged_at


def test_the_rise_allowed_scales_with_the_fall_with_a_floor_for_a_loss_that_has_not_fallen() -> None:
    assert rise_limit(-1.0, -3.0) == pytest.approx(8.0)
    assert rise_limit(1e-6, 1e-8) == pytest.approx(4 * 0.99e-6)
    assert rise_limit(1.0, 1.0) == pytest.approx(0.4)  # nothing fell yet: a tenth of its size, times four
    assert rise_limit(0.0, 0.0) > 0


def test_a_flat_noisy_loss_gives_no_suggestion() -> None:
    rng = np.random.default_rng(0)
    finding = summarize(ProbeSettings(steps=100), _points([float(v) for v in 1.0 + 0.002 * rng.standard_normal(100)]))
    assert finding.suggested is None and "never fell clearly" in finding.reason


def test_run_probe_puts_back_torch_threads_and_the_global_random_state() -> None:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1 if before != 1 else 2)
    threads = torch.get_num_threads()
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    try:
        run_probe(load_preset("toy2d-mlp", ["run.device=cpu"]), ProbeSettings(steps=20))
        assert torch.get_num_threads() == threads
        assert torch.equal(torch.rand(3), expected)  # the probe's seeding did not leak into the caller's stream
    finally:
        torch.set_num_threads(before)


def test_a_ramp_that_diverges_at_once_gives_no_suggestion_and_says_why() -> None:
    config = load_preset("toy2d-mlp", ["optim.optimizer=sgd"])
    finding = run_probe(config, ProbeSettings(start=1e3, end=1e6, steps=50))
    assert finding.suggested is None and finding.suggested_index is None
    assert finding.diverged_at is not None and finding.diverged_at < 1e4
    assert "diverged" in finding.reason and "lower the ramp's start" in finding.reason


@pytest.mark.parametrize(("kwargs", "key", "rule"), [
    ({"start": 0.0}, "lr_find.start", "must be > 0"),
    ({"end": float("inf")}, "lr_find.end", "finite"),
    ({"start": 1.0, "end": 0.1}, "lr_find.start", "`start < end` must hold"),
    ({"steps": 3}, "lr_find.steps", "from 10"),
])
def test_bad_settings_are_one_line_errors(kwargs: dict, key: str, rule: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ProbeSettings(**kwargs)
    assert caught.value.key == key and rule in str(caught.value) and "\n" not in str(caught.value)


def test_a_task_that_cannot_be_built_is_a_tunedeck_error_not_a_crash(tmp_path: object) -> None:
    config = load_preset("surnames-mlp", ["task.path=/nonexistent/surnames.csv"])
    with pytest.raises(TunedeckError) as caught:
        run_probe(config, ProbeSettings(steps=10))
    assert "surnames.csv" in str(caught.value)


def test_a_train_split_without_batches_is_the_loops_own_error() -> None:
    from engine.training.loop import no_batches
    from engine.training.lr_probe import _endless

    config = load_preset("toy2d-mlp")
    with pytest.raises(TunedeckError) as caught:
        next(_endless(lambda: [], config))
    assert str(caught.value) == str(no_batches(config, "train")) == "task toy2d: the train split gave no batches"
