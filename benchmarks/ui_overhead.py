"""Does a live UI slow training down? The same trial, bare and from the running app, side by side.

    python benchmarks/ui_overhead.py [--rounds 3] [--executor process|thread]

(a) trains through the engine with no UI; (b) starts the same config from the running app
(headless `App.run_test`, plot and table live at their default rates) with the chosen executor.
Rounds alternate a and b. Steps/s comes from the loop's own per-epoch timings, the first epoch
left out (it pays for warm-up), so it measures training speed, not start-up. Both use one torch
thread so that the comparison is like for like. Prints steps/s and the median ratio b/a per model.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from engine.config.groups import Config
from engine.events import EpochEnded, Event, TrialStarted

MODELS = {
    "small MLP 16 (Python-bound)": {"model": {"hidden": [16]}},
    "large MLP 1024x1024 (compute-bound)": {"model": {"hidden": [1024, 1024]}},
}
BASE = {"task": {"name": "toy2d", "n_samples": 20000}, "optim": {"batch_size": 64, "max_epochs": 6},
        "early_stop": {"patience": 0}, "run": {"threads": 1, "device": "cpu"}}


def steps_per_second(events: list[Event]) -> float:
    per_epoch = next(e.steps_per_epoch for e in events if isinstance(e, TrialStarted))
    epochs = [e for e in events if isinstance(e, EpochEnded) and e.epoch > 1]
    return per_epoch * len(epochs) / sum(e.seconds for e in epochs)


def bare(config: Config) -> float:
    from engine.training.loop import train

    return steps_per_second(list(train(config, threading.Event())))


async def in_app(config: Config, executor_kind: str, workdir: Path) -> float:
    from engine.execution.executors import ThreadExecutor
    from engine.execution.trainer_process import ProcessExecutor
    from engine.store import Store
    from tui.app import TunedeckApp

    store = Store(workdir / f"bench-{time.monotonic_ns()}.db")
    executor = ThreadExecutor() if executor_kind == "thread" else ProcessExecutor()
    if isinstance(executor, ProcessExecutor):
        executor.prewarm(1)
    app = TunedeckApp(config, store, executor)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.5)
        app.cockpit.action_start_trial()
        while True:
            await pilot.pause(0.2)
            finished = [t for t in app.cockpit.monitor.live.trials.values() if t.finished is not None]
            if finished:
                break
        trial = finished[0]
        if trial.started is None:
            raise RuntimeError(f"trial did not start: {trial.finished.reason}")
        events: list[Event] = [trial.started, *trial.epochs]  # type: ignore[list-item]
    store.close()
    return steps_per_second(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--executor", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    from engine.execution.trainer_process import prepare_multiprocessing

    prepare_multiprocessing()
    print(f"executor {args.executor}; median of {args.rounds} alternating rounds; steps/s excluding epoch 1")
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in MODELS.items():
            config = Config.from_dict({**BASE, **spec})
            a_runs, b_runs, ratios = [], [], []
            for _ in range(args.rounds):
                a = bare(config)
                b = asyncio.run(in_app(config, args.executor, Path(tmp)))
                a_runs.append(a)
                b_runs.append(b)
                ratios.append(b / a)
            print(f"{name:<38} bare {statistics.median(a_runs):8.0f}/s   in app {statistics.median(b_runs):8.0f}/s"
                  f"   b/a {statistics.median(ratios):.2f}  (each round: {', '.join(f'{r:.2f}' for r in ratios)})",
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
