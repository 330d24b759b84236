"""Whole processes on one objective: `tunedeck sweep` against the bare floor and its peers.

    python benchmarks/peers.py [--trials 32] [--rounds 3] [--quick] [--only sweep,floor,...] [--alt DIR]

One random sweep (toy2d, 3,000 samples, MLP 32, batch 64, 20 epochs, no early stopping; learning
rate, weight decay and dropout sampled, seed 0) of `--trials` trials, two at a time, run as whole
commands, each started from nothing (a fresh interpreter that imports torch itself), alternately,
several rounds; every trial trains through the engine's own `engine.training.loop.train(config)`:

  sweep      `tunedeck sweep PRESET --store STORE`: the CLI, a preset with a [search] table (strategy
             random, parallel 2), a fresh store each run, the product's defaults otherwise;
  floor      the bare floor: the same number of trainings split over two bare python processes, no
             sampler, no store (points drawn with `random.Random`); what two cores can do at best;
  journal    Optuna multi-process: two processes sharing one `JournalStorage` file, each
             `study.optimize(n_trials=half)`, the study created before the clock starts;
  threads    Optuna `study.optimize(n_jobs=2)` in one process (two threads);
  ray        Ray Tune's `Tuner` (num_samples, max_concurrent_trials 2, one CPU a trial) where `ray`
             is importable; otherwise a line says it was skipped;
  alt        with --alt DIR: `tunedeck sweep` again, its code imported from DIR (a copy of the tree
             before or after a change), to measure the change side by side in the same rounds.

Every trainer uses one torch thread (what tunedeck gives each of two trials on two cores). Wall time
runs from starting the command(s) to the last one's exit, so process start-up, `import torch` and
torch's first-optimizer import of torch._dynamo count on every side; "cpu" is the CPU time of each
run's whole process tree (user + system, from the kernel's accounting of waited-for children), which
moves less than wall time when other processes share the box. Prints each round, the medians and
each run's ratio to the floor of the same round. Figures and the command: docs/performance.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import load  # benchmarks/machine.py, beside this script

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
BASE = {"task": {"name": "toy2d", "n_samples": 3000}, "model": {"kind": "mlp", "hidden": [32]},
        "optim": {"optimizer": "adam", "batch_size": 64, "max_epochs": 20},
        "early_stop": {"patience": 0}, "run": {"device": "cpu", "threads": 1}}
# key -> (low, high, log). Every point costs the same: dropout stays above 0, so the layer is always there.
SPACE = {"optim.lr": (1e-3, 1e-1, True), "reg.weight_decay": (1e-6, 1e-3, True), "reg.dropout": (0.05, 0.3, False)}
SEED = 0
PARALLEL = 2
KINDS = ("sweep", "floor", "journal", "threads", "ray", "alt")


# --- the preset tunedeck sweeps ------------------------------------------------------------------

def preset_text(trials: int) -> str:
    """BASE and SPACE as a preset with a [search] table."""
    lines = ['name = "peers"']
    for table, values in BASE.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += ["[search]", 'strategy = "random"', f"trials = {trials}", f"parallel = {PARALLEL}", 'pruner = "none"',
              f"seed = {SEED}", 'metric = "val_loss"']
    for key, (low, high, log) in SPACE.items():
        lines.append(f'"{key}" = {{ low = {low!r}, high = {high!r}, log = {str(log).lower()} }}')
    return "\n".join(lines) + "\n"


# --- the workers (this file run with --worker) ----------------------------------------------------

def _config(updates: dict[str, float]) -> Any:
    from engine.config.groups import Config

    return Config.from_dict(BASE).with_updates(updates)


def _objective(updates: dict[str, float]) -> float:
    """One training through the engine's loop: the best val_loss (nan for a trial without results)."""
    import math

    from engine.events import EpochEnded, TrialFinished
    from engine.training.loop import train

    best, finished = math.inf, None
    for event in train(_config(updates)):
        if isinstance(event, EpochEnded) and event.val_loss is not None and math.isfinite(event.val_loss):
            best = min(best, event.val_loss)
        elif isinstance(event, TrialFinished):
            finished = event
    return best if finished is not None and finished.state.has_results and math.isfinite(best) else math.nan


def _draw(rng: random.Random) -> dict[str, float]:
    import math

    out = {}
    for key, (low, high, log) in SPACE.items():
        out[key] = math.exp(rng.uniform(math.log(low), math.log(high))) if log else rng.uniform(low, high)
    return out


def _suggest(trial: Any) -> dict[str, float]:
    return {key: trial.suggest_float(key, low, high, log=log) for key, (low, high, log) in SPACE.items()}


def worker(kind: str, trials: int, part: int, path: str) -> None:
    import torch

    torch.set_num_threads(1)
    if kind == "floor":
        rng = random.Random(SEED + part)
        for _ in range(trials):
            _objective(_draw(rng))
        return
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if kind == "journal":
        study = optuna.load_study(study_name="peers", storage=journal_storage(optuna, path),
                                  sampler=optuna.samplers.RandomSampler(seed=SEED + part))
        study.optimize(lambda t: _objective(_suggest(t)), n_trials=trials)
    elif kind == "threads":
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=SEED))
        study.optimize(lambda t: _objective(_suggest(t)), n_trials=trials, n_jobs=PARALLEL)
    elif kind == "ray":
        ray_tune(trials, path)
    else:
        raise SystemExit(f"unknown worker kind {kind!r}")


def journal_storage(optuna: Any, path: str) -> Any:
    """A JournalStorage on a file, in the spelling of the installed Optuna (JournalFileBackend from 4.0)."""
    journal = optuna.storages.journal if hasattr(optuna.storages, "journal") else None
    backend = getattr(journal, "JournalFileBackend", None) if journal else None
    if backend is None:
        backend = optuna.storages.JournalFileStorage
    return optuna.storages.JournalStorage(backend(path))


def ray_tune(trials: int, path: str) -> None:
    import ray
    from ray import tune

    ray.init(num_cpus=PARALLEL, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             _temp_dir=path)

    def trainable(config: dict) -> dict:
        import torch

        torch.set_num_threads(1)
        return {"val_loss": _objective(config)}

    space = {key: (tune.loguniform if log else tune.uniform)(low, high) for key, (low, high, log) in SPACE.items()}
    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space=space,
                       tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=PARALLEL,
                                                   metric="val_loss", mode="min"),
                       run_config=tune.RunConfig(storage_path=path, verbose=0))
    tuner.fit()
    ray.shutdown()


# --- the driver -----------------------------------------------------------------------------------

def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def _worker_cmd(kind: str, trials: int, part: int, path: Path) -> list[str]:
    return [sys.executable, str(HERE), "--worker", kind, "--trials", str(trials), "--part", str(part),
            "--path", str(path)]


def _halves(trials: int) -> list[int]:
    return [trials // PARALLEL + (1 if i < trials % PARALLEL else 0) for i in range(PARALLEL)]


def commands(kind: str, trials: int, workdir: Path) -> list[list[str]]:
    """The command line(s) one run of `kind` starts at once."""
    if kind in ("sweep", "alt"):
        preset = workdir / "peers.toml"
        preset.write_text(preset_text(trials))
        tunedeck = Path(sys.executable).with_name("tunedeck")
        store = workdir / f"sweep-{time.monotonic_ns()}.db"
        return [[str(tunedeck), "sweep", str(preset), "--store", str(store)]]
    if kind == "floor":
        return [_worker_cmd("floor", n, i, workdir) for i, n in enumerate(_halves(trials))]
    if kind == "journal":
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        path = workdir / f"journal-{time.monotonic_ns()}.log"
        optuna.create_study(study_name="peers", storage=journal_storage(optuna, str(path)))  # before the clock
        return [_worker_cmd("journal", n, i, path) for i, n in enumerate(_halves(trials))]
    if kind == "threads":
        return [_worker_cmd("threads", trials, 0, workdir)]
    ray_dir = workdir / f"ray-{time.monotonic_ns()}"
    ray_dir.mkdir()
    return [_worker_cmd("ray", trials, 0, ray_dir)]


def run_once(kind: str, trials: int, workdir: Path, alt: Path | None = None) -> tuple[float, float]:
    """(wall seconds from starting the command(s) to the last exit, CPU seconds of their process trees);
    a failed command stops the benchmark."""
    cmds = commands(kind, trials, workdir)
    logs = [workdir / f"{kind}-{i}.out" for i in range(len(cmds))]
    code_root = alt if kind == "alt" and alt is not None else ROOT
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(code_root), os.environ.get("PYTHONPATH")]))}
    cpu_before = _children_cpu()
    started = time.perf_counter()
    procs = []
    for cmd, log in zip(cmds, logs):
        with open(log, "w") as out:
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=workdir, env=env))
    codes = [p.wait() for p in procs]
    seconds = time.perf_counter() - started
    if any(codes):
        tail = "\n".join(log.read_text()[-2000:] for log in logs)
        raise SystemExit(f"{kind} failed (exit {codes}):\n{tail}")
    return seconds, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=None, help="trials per run (default 32; 8 with --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 8 trials, 1 round")
    parser.add_argument("--only", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--alt", type=Path, default=None, metavar="DIR",
                        help="also run `tunedeck sweep` with its code imported from DIR (kind `alt`)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    trials = args.trials if args.trials is not None else (8 if args.quick else 32)
    if args.worker:
        worker(args.worker, trials, args.part, args.path)
        return 0
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or trials < PARALLEL or rounds < 1:
        parser.error(f"--only takes {', '.join(KINDS)}; --trials >= {PARALLEL}; --rounds >= 1")
    if "floor" not in kinds:
        kinds.insert(0, "floor")  # every ratio is to the floor of the same round
    if args.alt is None and "alt" in kinds:
        kinds.remove("alt")
    elif args.alt is not None and "alt" not in kinds:
        kinds.append("alt")
    if "ray" in kinds and not ray_available():
        print("ray: skipped (ray is not importable here; pip install 'ray[tune]' to add it)")
        kinds.remove("ray")
    print(f"{os.cpu_count()} cores, load average {load()} at the start; {trials} random trials a run (toy2d "
          f"{BASE['task']['n_samples']} samples, MLP {BASE['model']['hidden']}, {BASE['optim']['max_epochs']} epochs, "
          f"1 torch thread a trainer), {PARALLEL} at a time; {rounds} alternating round(s) of: {', '.join(kinds)}",
          flush=True)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    cpus: dict[str, list[float]] = {k: [] for k in kinds}
    ratios: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="tunedeck-peers-") as tmp:
        workdir = Path(tmp)
        for r in range(1, rounds + 1):
            shift = (r - 1) % len(kinds)
            order = kinds[shift:] + kinds[:shift]  # each kind takes each place in turn
            for kind in order:
                wall, cpu = run_once(kind, trials, workdir, args.alt)
                times[kind].append(wall)
                cpus[kind].append(cpu)
            for kind in kinds:
                ratios[kind].append(times[kind][-1] / times["floor"][-1])
            print(f"round {r} (order {', '.join(order)}; load {load()}): " + "  ".join(
                f"{k} {times[k][-1]:.1f} s ({ratios[k][-1]:.2f}x, cpu {cpus[k][-1]:.1f} s)" for k in kinds), flush=True)
    print(f"\n{'run':<8} {'median':>8} {'min':>7} {'max':>7} {'/floor':>7} {'cpu':>7} {'/floor':>7}   wall/floor per round")
    for kind in kinds:
        t, c = times[kind], cpus[kind]
        cpu_ratio = statistics.median(a / b for a, b in zip(c, cpus["floor"]))
        print(f"{kind:<8} {statistics.median(t):>7.1f}s {min(t):>6.1f}s {max(t):>6.1f}s "
              f"{statistics.median(ratios[kind]):>6.2f}x {statistics.median(c):>6.1f}s {cpu_ratio:>6.2f}x   "
              f"{', '.join(f'{x:.2f}' for x in ratios[kind])}")
    if "sweep" in kinds:
        for peer in (k for k in kinds if k not in ("sweep", "floor")):
            per_round = [a / b for a, b in zip(times["sweep"], times[peer])]
            print(f"sweep / {peer}: median {statistics.median(per_round):.2f} "
                  f"(each round: {', '.join(f'{x:.2f}' for x in per_round)})")
    print(f"load average {load()} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
