"""A sweep as the store holds it: its trials read back for a resumed sweep, how each ended, its counts.

What the running sweep (engine.sweeps.sweep) and its readers (progress, the supervisor, the CLI)
share: the words for an ended trial and the progress record.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.config.groups import Config
from engine.errors import ConfigError, TunedeckError
from engine.states import SweepState, TrialState
from engine.store.sweeps import SweepRecord
from engine.store.trials import Store
from engine.sweeps.objectives import best_value, epoch_values, objective_values
from engine.sweeps.results import config_value
from engine.sweeps.sampler import PastTrial
from engine.sweeps.spec import SearchSpec, label, parse_search


class SweepError(TunedeckError):
    """A sweep cannot do what was asked (resume a completed one, say)."""


@dataclass(frozen=True)
class SweepProgress:
    state: SweepState
    planned: int
    done: int
    running: int
    completed: int
    pruned: int
    failed: int
    cancelled: int
    best_value: float | None
    best_trial: int | None
    eta_seconds: float | None


def outcome(state: TrialState) -> str:
    """Which of a sweep's counts an ended trial adds to: completed, pruned, failed or cancelled (the
    last also for interrupted ones: both run again when the sweep is resumed)."""
    if state == TrialState.PRUNED:
        return "pruned"
    if state.has_results:
        return "completed"
    return "cancelled" if state.is_lost else "failed"


def sweep_name(base: Config, spec: SearchSpec) -> str:
    """The name a sweep gets unless its [search] table names it: the base's name and the strategy."""
    return spec.name or f"{base.name or base.task.name}-{spec.strategy}"


def past_trials(store: Store, sweep_id: int, spec: SearchSpec) -> list[tuple[int, PastTrial]]:
    """A sweep's trials that ran to an end, as the resumed study replays them."""
    trials = [t for t in store.trials(sweep_id=sweep_id) if t.state.counts_toward_plan]
    epochs = epoch_values(store, [t.id for t in trials], spec.metric)
    several = objective_values(store, trials, spec.goals) if spec.multi else {}
    past = []
    for t in trials:
        updates = {key: config_value(t.config, key) for key in spec.keys()}
        values = epochs.get(t.id, {})
        value = several.get(t.id) if spec.multi else best_value(values, spec.direction)
        past.append((t.id, PastTrial(updates, t.state, value, {} if spec.multi else values)))
    return past


def carried_trials(store: Store, sweep_id: int, spec: SearchSpec) -> list[tuple[int, dict, dict]]:
    """A sweep's interrupted or cancelled trials that can go on from a checkpoint: (id, knobs, config)."""
    return [(t.id, {key: config_value(t.config, key) for key in spec.keys()}, t.config)
            for t in store.trials(sweep_id=sweep_id) if t.state.is_lost and store.checkpoints(t.id, "last")]


def resumed_spec(record: SweepRecord, parallel: int | None) -> tuple[Config, SearchSpec]:
    """A stored sweep's base and spec as it will go on, with a new --parallel (its only change): checked
    by the CLI before it queues a resume, and again where the sweep runs."""
    try:
        base = Config.from_dict(record.base)
        return base, parse_search(record.spec, base, overrides={"parallel": parallel} if parallel is not None else None)
    except ConfigError as exc:
        if exc.key == "search.parallel":
            raise ConfigError(exc.rule, key="--parallel", value=exc.value) from None
        raise SweepError(f"sweep {record.id} was stored by another version of tunedeck and cannot be "
                         f"resumed: {exc}") from None


def knobs_text(updates: dict) -> str:
    """A config's searched knobs on one line, for the sweep's log."""
    return "  ".join(f"{k.split('.', 1)[-1]}={label(v)}" for k, v in updates.items())


def finish_reason(planned: int, done: int, cancelled: int, refused: int, stopping: str | None, used_up: bool,
                  repeats: int) -> str:
    """How a sweep ended, in the words stored with it."""
    if stopping:
        reason = f"{stopping} after {done} of {planned} trials"
        if cancelled:
            reason += f"; {cancelled} cancelled, run again on resume"
    elif used_up:
        reason = f"the search space was used up after {done} trials: the sampler drew only configs already tried"
    elif done + refused >= planned:
        reason = f"all {done} trials ran"
    elif cancelled:
        reason = (f"{done} of {planned} trials ran; {cancelled} interrupted or cancelled while it ran (a worker "
                  f"lost, a trial stopped): resuming the sweep runs them again")
    else:
        reason = f"the grid was used up after {done} trials"
    if refused:
        reason += f"; {refused} sampled combination(s) broke a rule between knobs and were not run"
    if repeats:
        reason += f"; {repeats} repeat(s) of an earlier trial's config skipped"
    return reason
