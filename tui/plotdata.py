"""Which curves the plot shows: the trial in focus, live, and the selected trials overlaid.

The trial in focus is the newest running one, else the highlighted one, else the one that started
last. Running trials come from the live curves (tui/live.py); finished ones from the store, read
once and cached, since a finished trial's history never changes.
"""
from __future__ import annotations

from engine.store import Store
from tui.live import LiveTrials
from tui.plotting.series import METRIC_NAMES, Series, palette_color, smooth_ema

STEP_SMOOTHING = 0.1
SHORT = {"train_loss": "train", "val_loss": "val", "val_acc": "val acc", "lr": "lr"}


class PlotData:
    def __init__(self, store: Store, live: LiveTrials) -> None:
        self.store = store
        self.live = live
        self._finished: dict[int, dict[str, tuple[list[float], list[float]]]] = {}

    def curves(self, trial_id: int) -> dict[str, tuple[list[float], list[float]]]:
        """metric -> (xs, ys) for one trial: epochs for epoch metrics, steps for step_loss."""
        live = self.live.get(trial_id)
        if live is not None:
            return {m: live.metric(m) for m in ("train_loss", "val_loss", "val_acc", "lr", "step_loss")}
        if trial_id not in self._finished:
            curves: dict[str, tuple[list[float], list[float]]] = {}
            for _trial, epoch, step, metric, value in self.store.history([trial_id]):
                x = float(step if metric == "step_loss" else epoch)
                xs, ys = curves.setdefault(metric, ([], []))
                if value is not None:
                    xs.append(x)
                    ys.append(float(value))
            record = self.store.trial(trial_id)
            if record.state.is_finished:
                self._finished[trial_id] = curves
            return curves
        return self._finished[trial_id]

    def forget(self, trial_id: int) -> None:
        self._finished.pop(trial_id, None)

    def series(self, focus: int | None, selected: tuple[int, ...], metric: str, steps: bool) -> list[Series]:
        """The focus trial in the first colours, then each selected trial in its own colour."""
        shown = ([focus] if focus is not None else []) + [t for t in selected if t != focus]
        out: list[Series] = []
        for index, trial_id in enumerate(shown):
            curves = self.curves(trial_id)
            names = METRIC_NAMES[metric]
            if steps and metric == "loss":
                xs, ys = curves.get("step_loss", ([], []))
                if ys:
                    out.append(Series(f"#{trial_id} step (smoothed)", xs, smooth_ema(ys, STEP_SMOOTHING),
                                      color=palette_color(2 * index + 1)))
                continue
            for k, name in enumerate(names):
                xs, ys = curves.get(name, ([], []))
                color = palette_color(2 * index + k) if len(shown) > 1 or len(names) > 1 else palette_color(index)
                out.append(Series(f"#{trial_id} {SHORT.get(name, name)}", xs, ys, color=color))
        return out
