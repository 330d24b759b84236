"""Epoch time with checkpoints on against off, for a small and a large model.

    python benchmarks/checkpoint.py [--rounds 3] [--quick] [--dir PATH]

Each trial is trained by the engine's `TrialRun` into a fresh store in a temporary folder (`--dir`
picks the disk), three ways, alternating within every round (the order rotates from round to round):

  off      run.checkpoint = "none";
  default  run.checkpoint = "both", run.checkpoint_every = the config's default (30 s);
  every    run.checkpoint = "both", run.checkpoint_every = 0 (a `last` and a `best` after every epoch).

Models: MLP 16 on toy2d (65 parameters, 10,000 samples, 110 steps of 64 an epoch, 15 epochs) and an
MLP 3200x3200 on toy2d (10.3 M parameters, 1,000 samples, 11 steps an epoch, 6 epochs; its `last`
checkpoint, with Adam's two moments and the best epoch's weights, is about 165 MB).

An epoch's time is the wall time between one EpochEnded and the next as the consumer sees them, so
it includes the checkpoint written after the previous epoch (the loop's own `seconds` does not);
epoch 1's is from TrialStarted. "ckpt s" is the time spent in the Checkpointer (measured by wrapping
it), "trial" the whole TrialRun (setup, test split and the final `best` write too). The steady-state
projection divides the measured cost of one `last` plus one `best` write by checkpoint_every: with
epochs shorter than that, that is what the default costs once a trial runs longer than it.
The torch thread count is pinned to what `run.threads = 0` picks at the start, for every run alike.
Figures and the command: docs/performance.md ("Checkpoints").
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from machine import load  # benchmarks/machine.py, beside this script

MODELS: dict[str, dict[str, Any]] = {
    "MLP 16": {"task": {"name": "toy2d", "n_samples": 10_000}, "model": {"hidden": [16]},
               "optim": {"max_epochs": 15, "batch_size": 64}},
    "MLP 3200x3200": {"task": {"name": "toy2d", "n_samples": 1_000}, "model": {"hidden": [3200, 3200]},
                      "optim": {"max_epochs": 6, "batch_size": 64}},
}
QUICK_EPOCHS = {"MLP 16": 6, "MLP 3200x3200": 3}
VARIANTS = ("off", "default", "every")


class Meter:
    """Time spent in the Checkpointer (each call, with the kinds it wrote), and each file write's kind,
    size and seconds."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.writes: list[tuple[str, int, float]] = []
        self.calls: list[tuple[float, tuple[str, ...]]] = []

    def install(self) -> None:
        from engine.execution import checkpoints
        from engine.training.checkpoint import Checkpointer

        meter = self
        for name in ("after_epoch", "at_end"):
            original = getattr(Checkpointer, name)

            def timed(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                started, before = time.perf_counter(), len(meter.writes)
                try:
                    return _original(self, *args, **kwargs)
                finally:
                    seconds = time.perf_counter() - started
                    meter.seconds += seconds
                    meter.calls.append((seconds, tuple(sorted(w[0] for w in meter.writes[before:]))))
            setattr(Checkpointer, name, timed)
        write = checkpoints._write_atomically

        def timed_write(path: Path, payload: dict[str, Any]) -> tuple[int, str]:
            started = time.perf_counter()
            size, sha = write(path, payload)
            meter.writes.append(("best" if path.name == "best.pt" else "last", size, time.perf_counter() - started))
            return size, sha
        checkpoints._write_atomically = timed_write

    def reset(self) -> None:
        self.seconds, self.writes, self.calls = 0.0, [], []


def one_trial(config: Any, workdir: Path, meter: Meter) -> dict[str, Any]:
    from engine.events import EpochEnded, TrialFinished, TrialStarted
    from engine.execution.runner import TrialRun
    from engine.store import Store

    meter.reset()
    with Store(workdir / f"bench-{time.monotonic_ns()}.db") as store:
        started = time.perf_counter()
        marks: list[float] = []
        finished = None
        for event in TrialRun(store, config):
            if isinstance(event, (TrialStarted, EpochEnded)):
                marks.append(time.perf_counter())
            elif isinstance(event, TrialFinished):
                finished = event
        wall = time.perf_counter() - started
    assert finished is not None and finished.state.value == "completed", finished
    epochs = [b - a for a, b in zip(marks, marks[1:])]
    return {"epochs": epochs, "wall": wall, "ckpt": meter.seconds, "writes": list(meter.writes),
            "calls": list(meter.calls)}



def filesystem(path: Path) -> str:
    """The type of the filesystem a path is on, from /proc/mounts (the longest mount point above it)."""
    try:
        best = ("", "?")
        with open("/proc/mounts") as fh:
            for line in fh:
                _, point, kind = line.split()[:3]
                if str(path).startswith(point) and len(point) > len(best[0]):
                    best = (point, kind)
        return best[1]
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round, fewer epochs")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary stores go (default: $TMPDIR)")
    args = parser.parse_args()
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if rounds < 1:
        parser.error("--rounds must be >= 1")

    import torch

    from engine.config.groups import Config
    from engine.training.device import choose_threads
    from engine.training.loop import prepare
    from engine.training.models import count_parameters

    default_every = Config.from_dict({}).run.checkpoint_every
    meter = Meter()
    meter.install()
    configs: dict[str, dict[str, Any]] = {}
    for model, table in MODELS.items():
        base = Config.from_dict({**table, "run": {"device": "cpu"}})
        if args.quick:
            base = base.with_updates({"optim.max_epochs": QUICK_EPOCHS[model]})
        setup = prepare(base)
        n_params = count_parameters(setup.model)
        threads = choose_threads(base, n_params)
        base = base.with_updates({"run.threads": threads})
        configs[model] = {
            "n_params": n_params, "threads": threads, "epochs": base.optim.max_epochs,
            "off": base.with_updates({"run.checkpoint": "none"}),
            "default": base.with_updates({"run.checkpoint": "both", "run.checkpoint_every": default_every}),
            "every": base.with_updates({"run.checkpoint": "both", "run.checkpoint_every": 0.0}),
        }
        del setup
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, load average {load()} at the start; "
          f"{rounds} round(s), variants alternating (off / default {default_every:g} s / every epoch)")
    results: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="tunedeck-ckpt-bench-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        print(f"stores in {workdir} ({filesystem(workdir.resolve())})")
        started = time.perf_counter()
        for c in configs.values():  # untimed: torch's first optimizer, the page cache, the allocator
            one_trial(c["every"].with_updates({"optim.max_epochs": 2}), workdir, meter)
        print(f"warm-up, untimed: {time.perf_counter() - started:.1f} s", flush=True)
        for r in range(rounds):
            for model, c in configs.items():
                order = VARIANTS[r % 3:] + VARIANTS[:r % 3]
                line = []
                for variant in order:
                    got = one_trial(c[variant], workdir, meter)
                    results[(model, variant)].append(got)
                    line.append(f"{variant} {got['wall']:.2f} s")
                print(f"round {r + 1}, {model}: " + ", ".join(line), flush=True)

    print()
    print(f"{'model':<15} {'variant':<8} {'median epoch':>13} {'ratio':>6} {'mean epoch':>11} {'ratio':>6} "
          f"{'trial':>8} {'ratio':>6} {'ckpt s':>7} {'share':>6}  writes per trial")
    for model in configs:
        off = results[(model, "off")]
        off_median = statistics.median(e for run in off for e in run["epochs"][1:])
        off_mean = statistics.median(statistics.fmean(run["epochs"]) for run in off)
        off_wall = statistics.median(run["wall"] for run in off)
        for variant in VARIANTS:
            runs = results[(model, variant)]
            median = statistics.median(e for run in runs for e in run["epochs"][1:])  # epoch 1 has no write before it
            mean = statistics.median(statistics.fmean(run["epochs"]) for run in runs)
            wall = statistics.median(run["wall"] for run in runs)
            ckpt = statistics.median(run["ckpt"] for run in runs)
            share = statistics.median(run["ckpt"] / (run["wall"] - run["ckpt"]) for run in runs)
            writes = runs[0]["writes"]
            text = ", ".join(f"{n} {k}" for k, n in sorted(_count(w[0] for w in writes).items())) or "none"
            print(f"{model:<15} {variant:<8} {median * 1000:>10.1f} ms {median / off_median:>6.3f} "
                  f"{mean * 1000:>8.1f} ms {mean / off_mean:>6.3f} {wall:>6.2f} s {wall / off_wall:>6.3f} "
                  f"{ckpt:>6.2f}s {share * 100:>5.1f}%  {text}")
    print()
    print("steady state (trials longer than checkpoint_every, epochs shorter): at most one `last` and one `best` "
          "per checkpoint_every seconds; the cost of one, from the `every` runs, is the Checkpointer's whole time "
          "after an epoch that wrote both (hashing, fsync, the store's record and the older `last` retired included)")
    for model, c in configs.items():
        runs = results[(model, "every")]
        writes = [w for run in runs for w in run["writes"]]
        calls = [call for run in runs for call in run["calls"]]
        last = statistics.median(w[2] for w in writes if w[0] == "last")
        size = statistics.median(w[1] for w in writes if w[0] == "last")
        both = [seconds for seconds, kinds in calls if kinds == ("best", "last")]
        only_last = [seconds for seconds, kinds in calls if kinds == ("last",)]
        only_best = [seconds for seconds, kinds in calls if kinds == ("best",)]
        if both:
            cost = statistics.median(both)
        else:
            cost = statistics.median(only_last) + (statistics.median(only_best) if only_best else 0.0)
        projected = ", ".join(f"{every:g} s: {cost / every * 100:.2f}%" for every in (10, default_every, 60))
        print(f"{model:<15} ({c['n_params']:,} parameters, {c['threads']} thread(s)): last {_size(size)} written in "
              f"{last * 1000:.1f} ms ({size / 1e6 / last:.0f} MB/s); a last and a best: {cost * 1000:.1f} ms; overhead "
              f"at checkpoint_every {projected}; <= 3% needs checkpoint_every >= {cost / 0.03:.2g} s")
    print(f"load average {load()} at the end")
    return 0


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for item in items:
        out[item] += 1
    return dict(out)


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - started:.0f} s)")
    raise SystemExit(code)
