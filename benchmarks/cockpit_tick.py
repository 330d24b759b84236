"""What one cockpit tick costs with 100,000 stored trials and 4 running: follow the store, not re-read it.

    python benchmarks/cockpit_tick.py [--trials 100000] [--ticks 200] [--profile]

Builds a temporary store with `--trials` finished trials (rows inserted in bulk with `executemany`,
columns named as in engine.store.schema, each with a full toy2d config and a few epochs of metrics)
and 4 running trials. A writer process (this script with `--write`, started by it) then appends to
the 4 running trials through its own Store connection what a trainer commits: every 0.05 s, per
trial, 10 step losses and one EpochEnded (5 epoch metrics, and the row's epochs_run/steps). The
trainers are fake on purpose: what is measured is the UI's cost, not training.

The cockpit runs headless (`App.run_test(size=(120, 36))`, no supervisor: nothing is queued). Its
own 0.25 s drain timer calls `Monitor.tick()` (poll the store follower, fold new metric rows into the
live curves, status lines, the table's frame patched at most once a second); each tick is timed
with `time.perf_counter`, `--ticks` of them while the writer runs (wrapped where the drain calls it,
rather than called from here beside the timer, which would split the store's changes between two
callers and leave the drain's ticks untimed). Printed: median, p95 and max
of a tick; the trial and metric rows the follower read per tick (its Update sizes); the plot's own
redraws (its 4-per-second timer, not part of the tick); and the UI process's CPU time per 0.25 s
cycle (tick, plot, table paint, Textual: everything this process did, the writer excluded).

Also timed in the same run: the first load (a new follower's first poll, which reads every trial,
and its first frame), the cockpit's start until it is ready, and the old approach, re-reading every
trial and building the table's frame from scratch (`trial_frame(store.trials())`), with the ratio of
its median to the tick's. Target: median tick < 50 ms. `--profile`: cProfile of the timed ticks,
top entries by own and cumulative time. Figures and the command: docs/performance.md.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.events import EpochEnded, StepLoss, TrialStarted
from engine.states import TrialState
from engine.store import Store
from engine.store.schema import TRIAL_COLUMNS

RUNNING = 4
WRITE_SECONDS = 0.05  # each fake trainer commits an epoch this often
STEPS_PER_EPOCH_LOGGED = 10
STORED_EPOCHS = 3  # metric history per stored trial: 3 epochs x 5 epoch metrics
FINISHED_STATES = [(TrialState.COMPLETED, 70), (TrialState.EARLY_STOPPED, 15), (TrialState.PRUNED, 8),
                   (TrialState.FAILED, 3), (TrialState.CANCELLED, 3), (TrialState.DIVERGED, 1)]
BASE: dict[str, Any] = {"task": {"name": "toy2d", "n_samples": 20000}, "optim": {"batch_size": 64, "max_epochs": 50},
                        "run": {"threads": 1, "device": "cpu"}}


# --- the store ----------------------------------------------------------------------------------

def build_store(path: Path, trials: int, seed: int = 0) -> None:
    """`trials` finished trials with their epoch metrics, in two executemany calls, one transaction."""
    Store(path).close()  # the schema, its indexes and rev triggers
    rng = random.Random(seed)
    base = Config.from_dict(BASE).to_dict()
    states = [s.value for s, _ in FINISHED_STATES]
    weights = [w for _, w in FINISHED_STATES]
    now = time.time() - trials * 30.0
    columns = ("name", "state", "reason", "task", "config_json", "created_at", "started_at", "finished_at",
               "duration_s", "hostname", "env_json", "run_info_json", "problem", "n_params", "device", "best_epoch",
               "best_val_loss", "val_acc_at_best", "test_loss", "test_acc", "epochs_run", "steps", "owner",
               "max_val_acc")
    known = {name for name, _ in TRIAL_COLUMNS}
    assert set(columns) <= known, set(columns) - known
    run_info = json.dumps({"n_train": 14000, "n_val": 3000, "n_test": 3000, "steps_per_epoch": 219, "threads": 1,
                           "info": {}})
    env = json.dumps({"python": sys.version.split()[0], "torch": "2.x", "host": "bench"})
    rows, metrics = [], []
    for i in range(trials):
        config = {**base, "optim": {**base["optim"], "lr": 10 ** rng.uniform(-4, -1)},
                  "model": {**base["model"], "hidden": [rng.choice((16, 32, 64, 128))] * rng.randint(1, 3)}}
        state = rng.choices(states, weights)[0]
        epochs = rng.randint(1, 50)
        loss = rng.uniform(0.01, 0.7)
        started = now + i * 30.0
        rows.append((f"toy2d #{i}", state, "done", "toy2d", json.dumps(config), started - 1.0, started,
                     started + 25.0, 25.0, "bench", env, run_info, "binary", rng.randint(60, 50000), "cpu",
                     epochs, loss, 1.0 - loss / 2, loss * 1.05, 1.0 - loss / 2, epochs, epochs * 219, "",
                     1.0 - loss / 3))
        for epoch in range(1, STORED_EPOCHS + 1):
            for metric, value in (("train_loss", loss), ("val_loss", loss), ("val_acc", 0.9), ("lr", 1e-3),
                                  ("epoch_seconds", 0.5)):
                metrics.append((i + 1, epoch, epoch * 219, metric, value))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO trials ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                         rows)
        conn.executemany("INSERT INTO metrics (trial_id, epoch, step, metric, value) VALUES (?, ?, ?, ?, ?)", metrics)
        conn.execute("COMMIT")
    finally:
        conn.close()


def start_running(store: Store) -> list[int]:
    """4 trials running in this process's name (so that recovery leaves them be); the writer feeds them."""
    ids = []
    for i in range(RUNNING):
        config = Config.from_dict({**BASE, "name": f"live {i}", "optim": {"batch_size": 64, "max_epochs": 100_000}})
        trial_id = store.create_trial(config)
        store.start_trial(trial_id, TrialStarted("cpu", 4500, 14000, 3000, 3000, 219, "binary", 1), {})
        ids.append(trial_id)
    return ids


def write_epochs(path: Path, ids: list[int], seconds: float, parent: int) -> None:
    """The fake trainers (the `--write` process): an epoch per trial every WRITE_SECONDS, until told to stop,
    `seconds` pass, or the benchmark that started it is gone."""
    store = Store(path)
    deadline = time.monotonic() + seconds
    epoch = 0
    while time.monotonic() < deadline and os.getppid() == parent:
        epoch += 1
        for n, trial_id in enumerate(ids):
            step = epoch * 219
            loss = 0.7 / (1 + 0.01 * epoch) + 0.01 * n
            for k in range(STEPS_PER_EPOCH_LOGGED):
                store.record(trial_id, StepLoss(epoch, step - 219 + (k + 1) * 21, loss * 1.1))
            store.record(trial_id, EpochEnded(epoch, step, loss, loss, 0.9, 1e-3, WRITE_SECONDS, improved=True))
        time.sleep(WRITE_SECONDS)
    store.close()


# --- measuring ----------------------------------------------------------------------------------

def quantiles(values: list[float]) -> tuple[float, float, float]:
    """Median, p95 and max."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], ordered[-1]


def timed(fn: Callable[[], Any], into: list[float]) -> Callable[[], Any]:
    def wrapper() -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            into.append(time.perf_counter() - start)
    return wrapper


class GcPauses:
    """Python's garbage collector's pauses by generation (a full collection walks every stored record)."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._start)


def first_load(store: Store) -> tuple[float, float, int]:
    """A new follower's first poll (every trial read) and its first frame: seconds each, rows read."""
    from engine.tables.follower import StoreFollower

    follower = StoreFollower(store)
    start = time.perf_counter()
    update = follower.poll()
    polled = time.perf_counter()
    follower.frame  # noqa: B018 (built on first access)
    return polled - start, time.perf_counter() - polled, len(update.trials)


def old_refresh(store: Store, times: int) -> list[float]:
    """The old table refresh: every trial re-read and its frame built from scratch."""
    from engine.tables.frames import trial_frame

    out = []
    for _ in range(times):
        start = time.perf_counter()
        trial_frame(store.trials())
        out.append(time.perf_counter() - start)
    return out


async def cockpit_ticks(store: Store, ticks: int, profile: cProfile.Profile | None) -> dict[str, Any]:
    """Time the cockpit's own ticks (its 0.25 s drain) while the writer runs."""
    from engine.supervisor.client import SupervisorClient
    from tui.app import TunedeckApp

    client = SupervisorClient(store, launch=lambda: None)  # nothing is queued: no supervisor is needed
    app = TunedeckApp(Config.from_dict(BASE), store, client)
    tick_s: list[float] = []
    plot_s: list[float] = []
    frame_s: list[float] = []  # the table's set_frame, in the ticks that patched the frame
    patched: list[bool] = []
    sizes: list[tuple[int, int]] = []
    started = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        cockpit = app.cockpit
        while not cockpit.ready:
            await pilot.pause(0.05)
        ready = time.perf_counter() - started
        await pilot.pause(1.0)  # let the first paint settle
        monitor, follower = cockpit.monitor, app.services.follower
        poll = follower.poll

        def counted_poll() -> Any:
            update = poll()
            sizes.append((len(update.trials), len(update.metrics)))
            return update

        tick = monitor.tick

        def profiled_tick() -> None:
            frames = len(frame_s)
            if profile is not None:
                profile.enable()
            try:
                tick()
            finally:
                if profile is not None:
                    profile.disable()
                patched.append(len(frame_s) > frames)

        follower.poll = counted_poll  # type: ignore[method-assign]
        monitor.tick = timed(profiled_tick, tick_s)  # type: ignore[method-assign]
        monitor.plot.draw_now = timed(monitor.plot.draw_now, plot_s)  # type: ignore[method-assign]
        set_frame = monitor.table.set_frame

        def timed_set_frame(frame: Any) -> None:
            start = time.perf_counter()
            set_frame(frame)
            frame_s.append(time.perf_counter() - start)

        monitor.table.set_frame = timed_set_frame  # type: ignore[method-assign]
        gc_pauses = GcPauses()
        gc.callbacks.append(gc_pauses)
        cpu, wall = time.process_time(), time.perf_counter()
        while len(tick_s) < ticks:
            await asyncio.sleep(0.25)  # not pilot.pause: it posts a message to every widget, a cost of the harness
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        gc.callbacks.remove(gc_pauses)
        count = len(tick_s)
        running = len(app.services.running())
    return {"ready": ready, "ticks": tick_s[:count], "sizes": sizes[:count], "plot": plot_s, "patched": patched[:count],
            "set_frame": frame_s, "gc": gc_pauses.pauses,
            "cpu_per_tick": cpu / count, "wall_per_tick": wall / count, "running": running}


def report_profile(profile: cProfile.Profile, ticks: int) -> None:
    print(f"\ncProfile of {ticks} ticks (seconds summed over them):")
    for key in ("tottime", "cumulative"):
        print(f"--- by {key} ---")
        pstats.Stats(profile).strip_dirs().sort_stats(key).print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--old", type=int, default=3, help="how many times to time the old full re-read")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed ticks")
    parser.add_argument("--write", nargs=3, metavar=("STORE", "IDS", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write_epochs(Path(args.write[0]), [int(t) for t in args.write[1].split(",")], float(args.write[2]),
                     os.getppid())
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tick.db"
        start = time.perf_counter()
        build_store(path, args.trials)
        store = Store(path)
        ids = start_running(store)
        print(f"store: {store.count():,} trials ({RUNNING} running), built in {time.perf_counter() - start:.1f} s, "
              f"{path.stat().st_size / 1e6:.0f} MB", flush=True)
        poll_s, frame_s, rows = first_load(store)
        print(f"first load: poll {poll_s * 1000:.0f} ms ({rows:,} trial rows), frame {frame_s * 1000:.0f} ms", flush=True)
        seconds = args.ticks * 0.25 * 3 + 60 * args.old + 120  # a safety net: the writer is stopped below
        writer = subprocess.Popen([sys.executable, __file__, "--write", str(path), ",".join(map(str, ids)),
                                   str(seconds)], stdin=subprocess.DEVNULL)
        profile = cProfile.Profile() if args.profile else None
        try:
            result = asyncio.run(cockpit_ticks(store, args.ticks, profile))
            old = old_refresh(store, args.old)
        finally:
            writer.terminate()
            writer.wait(10)
        store.close()
    ticks = result["ticks"]
    med, p95, top = quantiles(ticks)
    trials_read = [t for t, _ in result["sizes"]]
    metrics_read = [m for _, m in result["sizes"]]
    print(f"cockpit ready after {result['ready']:.1f} s (form, first poll of every trial, first frame)")
    print(f"tick ({len(ticks)} ticks, {result['running']} running): median {med * 1000:.1f} ms, "
          f"p95 {p95 * 1000:.1f} ms, max {top * 1000:.1f} ms   target: median < 50 ms")
    for label, want in (("ticks that patched the table's frame", True), ("the other ticks", False)):
        part = [t for t, p in zip(ticks, result["patched"]) if p is want]
        if part:
            pm, pp, px = quantiles(part)
            print(f"  {label}: {len(part)}, median {pm * 1000:.1f} ms, p95 {pp * 1000:.1f} ms, max {px * 1000:.1f} ms")
    if result["set_frame"]:
        print(f"  of which the table's set_frame: median {statistics.median(result['set_frame']) * 1000:.1f} ms")
    for generation, pauses in result["gc"].items():
        if pauses:
            print(f"  gc generation {generation} pauses during the ticks' window: {len(pauses)}, "
                  f"max {max(pauses) * 1000:.0f} ms, total {sum(pauses) * 1000:.0f} ms")
    print(f"rows read per tick: trials median {statistics.median(trials_read):.0f} (max {max(trials_read)}), "
          f"metrics median {statistics.median(metrics_read):.0f} (max {max(metrics_read)})")
    if result["plot"]:
        pm, pp, px = quantiles(result["plot"])
        print(f"plot redraws (own timer, outside the tick): {len(result['plot'])}, median {pm * 1000:.1f} ms, "
              f"p95 {pp * 1000:.1f} ms, max {px * 1000:.1f} ms")
    print(f"UI process CPU per tick cycle: {result['cpu_per_tick'] * 1000:.1f} ms "
          f"(wall {result['wall_per_tick'] * 1000:.0f} ms per cycle)")
    old_med = statistics.median(old)
    print(f"old full re-read trial_frame(store.trials()): median {old_med * 1000:.0f} ms over {len(old)} "
          f"({', '.join(f'{t * 1000:.0f}' for t in old)} ms)   old / tick median: {old_med / med:.0f}x")
    if profile is not None:
        report_profile(profile, len(ticks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
