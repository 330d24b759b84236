"""The cockpit's status lines and state colours, as pure functions of the engine's answers."""
from __future__ import annotations

import pytest

from engine.states import SweepState, TrialState
from engine.sweeps.sweep import SweepProgress
from tui.status_text import run_status_line, sweep_status_line
from tui.theme import SWEEP_STATE_STYLES, TRIAL_STATE_STYLES, sweep_style, trial_style


def progress(state: SweepState = SweepState.RUNNING, **fields: object) -> SweepProgress:
    values = {"planned": 32, "done": 12, "running": 2, "completed": 8, "pruned": 3, "failed": 1, "cancelled": 0,
              "best_value": 0.0123, "best_trial": 45, "eta_seconds": 80.0}
    values.update(fields)
    return SweepProgress(state, **values)  # type: ignore[arg-type]


def test_a_running_sweeps_line_says_done_running_pruned_failed_best_and_eta() -> None:
    assert sweep_status_line(3, progress()) == ("[b]sweep 3[/b]: 12/32 done · 2 running · 3 pruned · "
                                                "[red]1 failed[/] · best 0.0123 #45 · ETA 1m20s")


def test_a_paused_sweep_says_how_to_resume_and_an_ended_one_its_state() -> None:
    paused = sweep_status_line(3, progress(SweepState.PAUSED, running=0, pruned=0, failed=0, best_value=None))
    assert paused == "[b]sweep 3[/b]: 12/32 done · [yellow]paused[/] (p resumes)"
    stopped = sweep_status_line(4, progress(SweepState.STOPPED, running=0, cancelled=2, eta_seconds=None))
    assert stopped.endswith(" · 2 cancelled · best 0.0123 #45 · stopped")
    assert "SweepState" not in stopped


def test_the_run_line_lists_the_running_trials_their_epochs_and_the_plot() -> None:
    line = run_status_line([1, 4], 2, 2, {1: (3, 0.3125)}, "loss", True, False, narrow=True)
    assert line == "running #1, #4  ·  2 at once  ·  2 queued  ·  #1 epoch 3 val_loss 0.3125  ·  plot loss (log)  ·  F2 form"
    assert run_status_line([], 0, 1, {}, "lr", False, False, narrow=False) == "idle  ·  1 at once  ·  plot lr"


@pytest.mark.parametrize("state", list(TrialState))
def test_every_trial_state_has_one_colour(state: TrialState) -> None:
    assert TRIAL_STATE_STYLES[state] and trial_style(state) == trial_style(state.value) == TRIAL_STATE_STYLES[state]


@pytest.mark.parametrize("state", list(SweepState))
def test_every_sweep_state_has_one_colour(state: SweepState) -> None:
    assert SWEEP_STATE_STYLES[state] and sweep_style(state.value) == SWEEP_STATE_STYLES[state]


def test_unknown_states_are_unstyled() -> None:
    assert trial_style("-") == "" and sweep_style("nope") == ""
