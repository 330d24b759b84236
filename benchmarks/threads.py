"""Steps per second for 1 thread against all cores, per model size, measured side by side.

    python benchmarks/threads.py [--rounds 3] [--busy 1]

Runs each model with threads=1 and threads=N (N = usable cores) alternately, several rounds,
and prints the median steps/s of each and the ratio N/1. The `run.threads = 0` (auto) default in
engine/device.py is chosen from these figures; see docs/performance.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

from engine.config.groups import Config
from engine.events import EpochEnded, TrialStarted
from engine.training.loop import train

MODELS = {
    "mlp-16 (65 params)": {"task": {"name": "toy2d", "n_samples": 20000}, "model": {"hidden": [16]}},
    "mlp-256x2 (67k params)": {"task": {"name": "toy2d", "n_samples": 20000}, "model": {"hidden": [256, 256]}},
    "mlp-512x2 (265k params)": {"task": {"name": "toy2d", "n_samples": 20000}, "model": {"hidden": [512, 512]}},
    "mlp-1024x2 (1.1M params)": {"task": {"name": "toy2d", "n_samples": 20000}, "model": {"hidden": [1024, 1024]}},
}


def steps_per_second(spec: dict, threads: int, epochs: int) -> float:
    data = {**spec, "optim": {"batch_size": 64, "max_epochs": epochs}, "run": {"threads": threads, "device": "cpu"}}
    config = Config.from_dict(data)
    steps, seconds, per_epoch = 0, 0.0, 0
    for event in train(config, threading.Event()):
        if isinstance(event, TrialStarted):
            per_epoch = event.steps_per_epoch
        elif isinstance(event, EpochEnded) and event.epoch > 1:  # the first epoch pays for warm-up
            steps += per_epoch
            seconds += event.seconds
    return steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="keep N other processes spinning (a busy box)")
    parser.add_argument("--models", default="", help="comma-separated prefixes of the models to run")
    args = parser.parse_args()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        _measure(args)
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()


def _measure(args: argparse.Namespace) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"{cores} usable cores, {args.busy} busy processes beside; median of {args.rounds} alternating rounds, "
          f"batch 64, CPU")
    print(f"{'model':<26} {'1 thread':>12} {f'{cores} threads':>12} {'ratio':>7}")
    for name, spec in MODELS.items():
        if args.models and not any(name.startswith(m) for m in args.models.split(",")):
            continue
        one, many = [], []
        for _ in range(args.rounds):
            one.append(steps_per_second(spec, 1, args.epochs))
            many.append(steps_per_second(spec, cores, args.epochs))
        a, b = statistics.median(one), statistics.median(many)
        print(f"{name:<26} {a:>10.0f}/s {b:>10.0f}/s {b / a:>7.2f}", flush=True)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
