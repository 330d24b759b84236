"""The loss plot in a tiny host app: what it draws, what it survives, and how often it redraws."""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from tui.plotting.series import Series
from tui.widgets.loss_plot import EMPTY_HINT, LossPlot

SIZE = (100, 30)
EPOCHS = [1, 2, 3, 4, 5, 6]
TRAIN = [1.0, 0.7, 0.5, 0.4, 0.35, 0.3]
VAL = [1.1, 0.8, 0.65, 0.6, 0.58, 0.57]


class PlotHost(App[None]):
    def __init__(self, **plot_options: object) -> None:
        super().__init__()
        self.plot_options = plot_options

    def compose(self) -> ComposeResult:
        yield LossPlot(id="plot", **self.plot_options)  # type: ignore[arg-type]


def run(scenario: Callable[[Pilot, LossPlot], Awaitable[None]], size: tuple[int, int] = SIZE, **options: object) -> None:
    async def main() -> None:
        app = PlotHost(**options)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(pilot, app.query_one(LossPlot))

    asyncio.run(main())


def shown(plot: LossPlot) -> str:
    """The widget's lines as Textual composes them for the screen."""
    return "\n".join(strip.text for strip in plot.render_lines(Region(0, 0, *plot.size)))


def loss_series() -> list[Series]:
    return [Series("train_loss", EPOCHS, TRAIN), Series("val_loss", EPOCHS, VAL, kind="scatter")]


def test_empty_state_shows_a_centred_hint() -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        text = shown(plot)
        assert EMPTY_HINT in text
        row = next(line for line in text.splitlines() if EMPTY_HINT in line)
        assert len(row) == SIZE[0] and abs(row.index(EMPTY_HINT) - (SIZE[0] - len(EMPTY_HINT)) / 2) <= 1
        assert abs(text.splitlines().index(row) - SIZE[1] / 2) <= 1
        plot.set_series(loss_series())
        plot.draw_now()
        plot.set_series([])
        plot.draw_now()
        await pilot.pause()
        assert EMPTY_HINT in shown(plot)

    run(scenario)


def test_legend_title_and_axis_label_are_drawn_to_the_screen() -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        plot.plot_title = "trial 7"
        plot.set_series(loss_series())
        plot.draw_now()
        await pilot.pause()
        text = shown(plot)
        lines = text.splitlines()
        assert len(lines) == SIZE[1] and all(len(line) == SIZE[0] for line in lines)
        assert "trial 7: loss" in lines[0]
        assert "train_loss" in text and "val_loss" in text
        assert "epoch" in lines[-1]
        assert EMPTY_HINT not in text

        before = plot.render_count
        plot.metric = "lr"
        plot.x_label = "step"
        await pilot.pause(0.6)
        assert plot.render_count == before + 1
        text = shown(plot)
        assert "trial 7: learning rate" in text.splitlines()[0]
        assert "step" in text.splitlines()[-1]
        with pytest.raises(ValueError, match="metric"):
            plot.metric = "perplexity"

    run(scenario)


def test_overlaid_trials_get_distinct_colours() -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        plot.set_series([Series(f"#{i} val_loss", EPOCHS, [v + 0.1 * i for v in VAL]) for i in range(4)])
        text = plot.draw_now()
        colours = {span.style.color.number for span in text.spans
                   if not isinstance(span.style, str) and span.style.color is not None}
        assert len(colours) >= 4
        assert all(number is not None and number < 256 for number in colours)

    run(scenario)


def test_log_y_with_non_positive_values_drops_them_and_says_so() -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        plot.log_y = True
        plot.set_series([Series("train_loss", EPOCHS, [0.0, -1.0, 0.5, 0.4, 0.3, 0.2])])
        plot.draw_now()
        await pilot.pause()
        title = shown(plot).splitlines()[0]
        assert "log y" in title and "2 values <= 0 dropped" in title
        assert plot.last_chart is not None and plot.last_chart.n_points == 4

        plot.set_series([Series("train_loss", [1, 2], [0.0, -3.0])])
        plot.draw_now()
        await pilot.pause()
        text = shown(plot)
        assert "no values to plot yet" in text and "2 values <= 0 dropped" in text

        plot.log_y = False
        plot.draw_now()
        assert plot.last_chart is not None and plot.last_chart.text is not None
        assert "log y" not in plot.last_chart.title

    run(scenario)


def test_nan_and_inf_are_skipped() -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        plot.set_series([Series("val_loss", EPOCHS, [1.0, math.nan, 0.5, math.inf, -math.inf, 0.3])])
        plot.draw_now()
        await pilot.pause()
        assert plot.last_chart is not None and plot.last_chart.n_points == 3
        assert "3 NaN/inf skipped" in shown(plot).splitlines()[0]
        assert "val_loss" in shown(plot)

    run(scenario)


ODD = {
    "single point": [Series("a", [3], [0.25])],
    "all equal": [Series("a", EPOCHS, [0.5] * 6)],
    "all zero on log": [Series("a", EPOCHS, [0.0] * 6)],
    "empty lists": [Series("a", [], []), Series("b", [], [], kind="scatter")],
    "all nan": [Series("a", [1, 2], [math.nan, math.nan])],
    "unequal lengths": [Series("a", [1, 2, 3], [0.5])],
    "one x many y": [Series("a", [2, 2, 2], [0.1, 0.9, 0.4])],
    "huge and tiny": [Series("a", [1, 2, 3], [1e300, 1e-300, 1.0])],
    "beyond float range": [Series("a", [1, 2, 3], [1e308, -1e308, 1.0]), Series("b", [-1e308, 1e308], [1, 2])],
    "a million points": [Series("a", np.arange(1e6), np.sin(np.arange(1e6)))],
    "unlabelled, no colour": [Series("", EPOCHS, TRAIN, color="bogus")],
    "many trials": [Series(f"trial with a rather long name {i}", EPOCHS, [v * (1 + i / 10) for v in TRAIN])
                    for i in range(20)],
}


@pytest.mark.parametrize("log_y", [False, True])
def test_odd_data_never_raises(log_y: bool) -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        plot.log_y = log_y
        for size in (SIZE, (20, 7), (6, 3)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            for name, series in ODD.items():
                plot.set_series(series)
                text = plot.draw_now()
                assert text.plain.strip(), name
                assert "cannot draw" not in text.plain, (name, text.plain)
                assert len(shown(plot).splitlines()) == plot.size.height

    run(scenario)


def test_a_million_points_plot_like_a_thousand() -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        for n in (1_000, 1_000_000):
            x = np.arange(1, n + 1, dtype=np.float64)
            plot.set_series([Series("step_loss", x, 1.0 / np.sqrt(x))])
            plot.x_label = "step"
            plot.draw_now()
            assert plot.last_chart is not None and plot.last_chart.n_points <= 2 * SIZE[0] + 2
        assert "step_loss" in shown(plot)

    run(scenario)


def test_a_burst_of_updates_costs_a_few_renders() -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        await pilot.pause(0.3)
        before = plot.render_count
        for i in range(100):
            plot.set_series([Series(f"burst {i}", EPOCHS[: 1 + i % 6], TRAIN[: 1 + i % 6])])
        assert plot.render_count == before
        await pilot.pause(0.6)
        assert 1 <= plot.render_count - before <= 3
        assert "burst 99" in shown(plot)

        before = plot.render_count
        started = time.monotonic()
        for i in range(30):
            plot.set_series([Series(f"stream {i}", EPOCHS, TRAIN)])
            await pilot.pause(0.02)
        await pilot.pause(0.3)
        # The bound is the frame rate over the time the stream took, however slow the machine.
        renders = plot.render_count - before
        assert 1 <= renders <= (time.monotonic() - started) * plot.max_fps + 2
        assert "stream 29" in shown(plot)

        before = plot.render_count
        await pilot.pause(0.6)
        assert plot.render_count == before

    run(scenario)


def test_resizing_redraws_to_the_new_size() -> None:
    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        plot.set_series(loss_series())
        plot.draw_now()
        before = plot.render_count
        await pilot.resize_terminal(70, 20)
        await pilot.pause()
        lines = shown(plot).splitlines()
        assert plot.render_count > before
        assert len(lines) == 20 and all(len(line) == 70 for line in lines)
        assert "train_loss" in "\n".join(lines)

    run(scenario)


def test_a_plot_that_fails_to_build_says_so_in_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("plotext broke")

    async def scenario(pilot: Pilot, plot: LossPlot) -> None:
        plot.set_series(loss_series())
        plot.draw_now()
        assert plot.last_chart is not None
        monkeypatch.setattr("tui.widgets.loss_plot.build_chart", broken)
        plot.plot_title = "#3"
        text = plot.draw_now().plain
        assert plot.last_chart is None
        assert "cannot draw the plot: plotext broke" in text and "#3: loss" in text
        await pilot.pause()
        assert "cannot draw the plot: plotext broke" in shown(plot)
        monkeypatch.undo()
        plot.draw_now()  # and it recovers once the data can be drawn
        assert plot.last_chart is not None and "train_loss" in plot.content_text.plain

    run(scenario)


def test_max_fps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_fps"):
        LossPlot(max_fps=0)
