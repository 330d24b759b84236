"""The colours of trial and sweep states, in one place for every screen that shows a state.

The detail view, the compare view and the sweep analysis each used to keep a mapping of their own,
and they drifted (a paused sweep and a cancelled trial must read alike). Keyed by the engine's
enums, so a state added to engine/states.py without a colour here fails the theme's test instead
of silently showing unstyled.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from engine.states import SweepState, TrialState

# Rich style names: good = green, cut short on purpose = cyan/magenta, in progress = yellow,
# stopped from outside = dark orange, broken = red.
TRIAL_STATE_STYLES: Mapping[TrialState, str] = MappingProxyType({
    TrialState.QUEUED: "dim",
    TrialState.RUNNING: "yellow",
    TrialState.COMPLETED: "green",
    TrialState.EARLY_STOPPED: "cyan",
    TrialState.PRUNED: "magenta",
    TrialState.DIVERGED: "red",
    TrialState.FAILED: "red",
    TrialState.CANCELLED: "dark_orange",
    TrialState.INTERRUPTED: "dark_orange",
})

SWEEP_STATE_STYLES: Mapping[SweepState, str] = MappingProxyType({
    SweepState.RUNNING: "yellow",
    SweepState.PAUSED: "dark_orange",
    SweepState.COMPLETED: "green",
    SweepState.STOPPED: "dark_orange",
    SweepState.INTERRUPTED: "red",
})


def trial_style(state: TrialState | str) -> str:
    """The style of a trial state, also given as its stored text (a table cell); '' for anything else."""
    try:
        return TRIAL_STATE_STYLES[TrialState(state)]
    except ValueError:
        return ""


def sweep_style(state: SweepState | str) -> str:
    """The style of a sweep state, also given as its stored text; '' for anything else."""
    try:
        return SWEEP_STATE_STYLES[SweepState(state)]
    except ValueError:
        return ""
