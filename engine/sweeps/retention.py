"""What checkpoints are kept, and what `tunedeck gc` frees (here, beside the sweeps, since one rule
ranks a sweep's trials by its objective).

A `last` checkpoint is kept only while its trial can be resumed (interrupted or cancelled); a
`best` is kept for every trial that has one, except where a sweep says `run.keep_best = K`: then
only the K best trials of that sweep by its objective keep theirs. Files in the artifacts folder
that no record names (a crash between writing and recording, a deleted store row) and temporary
files left by a crash are removed too. Planning and doing are separate, so `--dry-run` says
exactly what a real run removes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.execution.checkpoints import remove_checkpoint
from engine.store import Store
from engine.store.checkpoints import CheckpointRecord
from engine.sweeps.results import load_results
from engine.training.checkpoint import BEST, LAST


@dataclass(frozen=True)
class Removal:
    path: Path
    size: int
    why: str
    record: CheckpointRecord | None = None  # None: a file that no record names


def plan(store: Store) -> list[Removal]:
    """Everything gc would remove, and why."""
    out: list[Removal] = []
    states = {t.id: t.state for t in store.trials()}
    records = store.checkpoints()
    for record in records:
        state = states.get(record.trial_id)
        if record.kind == LAST and state is not None and state.is_finished and not state.is_lost:
            out.append(Removal(record.path, _size(record.path), f"trial {record.trial_id} is {state.value}: "
                               "it cannot be resumed", record))
    out += _beyond_keep_best(store, records)
    named = {r.path.resolve() for r in records}
    folder = store.artifacts
    busy = {str(t) for t, state in states.items() if not state.is_finished}  # writing now, or about to
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.resolve() in named:
                continue
            if path.relative_to(folder).parts[0] in busy:
                continue  # a running trial's file between its write and its record
            why = "left by a crash while writing" if path.name.endswith(".tmp") else "no trial's checkpoint"
            out.append(Removal(path, _size(path), why))
    return out


def _beyond_keep_best(store: Store, records: list[CheckpointRecord]) -> list[Removal]:
    bests = {r.trial_id: r for r in records if r.kind == BEST}
    out = []
    for sweep in store.sweeps():
        keep = int(sweep.base.get("run", {}).get("keep_best", 0) or 0)
        if keep <= 0:
            continue
        results = load_results(store, sweep.id)
        ranked = sorted(results.scored, key=lambda p: p.objective, reverse=results.spec.direction == "maximize")  # type: ignore[arg-type, return-value]
        kept = {p.trial_id for p in ranked[:keep]}
        for point in results.points:
            record = bests.get(point.trial_id)
            if record is not None and point.trial_id not in kept and point.state.is_finished:
                out.append(Removal(record.path, _size(record.path), f"trial {point.trial_id} is not among the "
                                   f"{keep} best of sweep {sweep.id} (run.keep_best)", record))
    return out


def apply(store: Store, removals: list[Removal]) -> int:
    """Remove what `plan` listed; the bytes freed."""
    freed = 0
    for removal in removals:
        if removal.record is not None:
            freed += remove_checkpoint(store, removal.record)
        else:
            try:
                freed += removal.path.stat().st_size
                removal.path.unlink()
            except FileNotFoundError:
                pass
    return freed


def keep_best_of_sweep(store: Store, sweep_id: int) -> int:
    """After a sweep's trial ended: apply its `run.keep_best` now (the bytes freed)."""
    return apply(store, [r for r in _beyond_keep_best(store, store.checkpoints(kind=BEST))
                         if r.record is not None and store.trial(r.record.trial_id).sweep_id == sweep_id])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0

