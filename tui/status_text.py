"""The cockpit's two status lines as text: what trains now, and how the live sweep is doing.

Pure functions of the engine's answers, kept apart from the screen so that the wording can be
tested without an app and the screen stays a composition of widgets and actions. The engine
reports numbers (SweepProgress); how they read on an 80-column terminal is the UI's business.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.states import SweepState
from engine.sweeps.sweep import SweepProgress
from engine.tables.formatting import fmt_duration, fmt_value


def sweep_status_line(sweep_id: int, p: SweepProgress) -> str:
    """`sweep 3: 12/32 done · 2 running · 3 pruned · 1 failed · best 0.0123 #45 · ETA 1m20s` (markup),
    short enough for the monitor pane of an 80-column terminal."""
    parts = [f"[b]sweep {sweep_id}[/b]: {p.done}/{p.planned} done"]
    if p.running:
        parts.append(f"{p.running} running")
    if p.pruned:
        parts.append(f"{p.pruned} pruned")
    if p.failed:
        parts.append(f"[red]{p.failed} failed[/]")
    if p.cancelled:
        parts.append(f"{p.cancelled} cancelled")
    if p.best_value is not None:
        parts.append(f"best {fmt_value(p.best_value)} #{p.best_trial}")
    if p.state == SweepState.PAUSED:
        parts.append("[yellow]paused[/] (p resumes)")
    elif p.state == SweepState.RUNNING:
        if p.eta_seconds is not None:
            parts.append(f"ETA {fmt_duration(p.eta_seconds)}")
    else:
        parts.append(SweepState(p.state).value)
    return " · ".join(parts)


def run_status_line(running: Sequence[int], waiting: int, parallel: int,
                    last_epochs: Mapping[int, tuple[int, float]], metric: str, log_y: bool, steps: bool,
                    narrow: bool) -> str:
    """`running #1, #4  ·  2 at once  ·  1 queued  ·  #1 epoch 3 val_loss 0.31  ·  plot loss (log)`.

    `running` is every trial training now (by hand, by a sweep, by another process), `waiting` the
    trials queued for the supervisor, `last_epochs` the latest (epoch, val_loss) of the running
    trials that have one.
    """
    parts = [f"running {', '.join(f'#{t}' for t in running)}" if running else "idle", f"{parallel} at once"]
    if waiting:
        parts.append(f"{waiting} queued")
    for trial_id in running:
        last = last_epochs.get(trial_id)
        if last is not None:
            parts.append(f"#{trial_id} epoch {last[0]} val_loss {last[1]:.4g}")
    parts.append(f"plot {metric}{' (log)' if log_y else ''}{' steps' if steps else ''}")
    if narrow:
        parts.append("F2 form")
    return "  ·  ".join(parts)
