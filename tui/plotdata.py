"""Which curves the plot shows: the trial in focus, live, and the selected trials overlaid.

Which trials are shown is decided in tui/plot_focus.py. Running trials come from the live curves
(tui/live.py); finished ones from the store, read once and cached, since a finished trial's history
never changes.
"""
from __future__ import annotations

from collections.abc import Sequence

from engine.store import Store
from tui.live import STEP_SMOOTHED, LiveTrial, LiveTrials
from tui.plotting.series import METRIC_NAMES, Series, palette_color
from tui.plotting.stream import StreamCurve

SHORT = {"train_loss": "train", "val_loss": "val", "val_acc": "val acc", "lr": "lr"}


class PlotData:
    def __init__(self, store: Store, live: LiveTrials) -> None:
        self.store = store
        self.live = live
        self._finished: dict[int, LiveTrial] = {}

    def curves(self, trial_id: int) -> LiveTrial:
        """One trial's curves: the live ones while it runs, else read from the store once (a finished
        trial's history never changes), in the same constant-size form."""
        live = self.live.get(trial_id)
        if live is not None:
            return live
        cached = self._finished.get(trial_id)
        if cached is not None:
            return cached
        curves = LiveTrial(trial_id)
        curves.add_history(self.store.history([trial_id]))
        if self.store.trial(trial_id).state.is_finished:
            self._finished[trial_id] = curves
        return curves

    def forget(self, trial_id: int) -> None:
        self._finished.pop(trial_id, None)

    def series(self, shown: Sequence[int], metric: str, steps: bool) -> list[Series]:
        """The curves of `shown` (ids, the main trial first), each trial in its own colours."""
        out: list[Series] = []
        names = METRIC_NAMES[metric]
        for index, trial_id in enumerate(shown):
            curves = self.curves(trial_id)
            if steps and metric == "loss":
                smoothed = curves.metric(STEP_SMOOTHED)
                if smoothed.count:
                    out.append(_series(f"#{trial_id} step (smoothed)", smoothed, palette_color(2 * index + 1)))
                continue
            for k, name in enumerate(names):
                color = palette_color(2 * index + k) if len(shown) > 1 or len(names) > 1 else palette_color(index)
                out.append(_series(f"#{trial_id} {SHORT.get(name, name)}", curves.metric(name), color))
        return out


def _series(label: str, curve: StreamCurve, color: str) -> Series:
    xs, ys = curve.arrays()
    return Series(label, xs, ys, color=color, skipped=curve.skipped)
