"""Wall time of one random sweep: tunedeck parallel=2 (processes) against Optuna n_jobs=2 (threads).

    python benchmarks/sweep.py [--trials 32] [--rounds 3] [--quick] [--ray]

The same random sweep (toy2d, MLP 32, 20 epochs, learning rate, weight decay and dropout sampled,
RandomSampler with one seed) run three ways, alternately, several rounds:

  (a) tunedeck: `Sweep` + `ProcessExecutor`, parallel = 2, threads = threads_per_trial(2);
  (b) Optuna's own `study.optimize(objective, n_trials, n_jobs=2)`, where `objective(trial)` samples
      the same space with `trial.suggest_*` and trains through the same engine function,
      `engine.training.loop.train(config)`, returning the best val_loss (torch.set_num_threads(1) here, the
      thread count tunedeck gives each of 2 trials);
  (c) tunedeck with parallel = 1, for the parallel efficiency time(p=1) / (2 * time(p=2));
  with --ray (the extra tunedeck[ray], and ray[tune] for (e)), on a local Ray runtime of 2 CPUs started
  before any timing:
  (d) tunedeck: `Sweep` + `RayExecutor` (engine/execution/ray_executor.py), parallel = 2, its two warm
      actors started before the clock; the events come back to this process, which records them;
  (e) Ray Tune's own `Tuner` (num_samples, max_concurrent_trials 2, one CPU a trial, its random
      search, reuse_actors=True: warm trial actors, its fastest set-up; the default is False) on the
      same objective, trained through the same engine function.
  For (a), (d) and (e) it prints the overhead per trial: wall * 2 / trials less the mean time of one
  trial trained bare in this process (measured first), i.e. what each slot spends per trial on
  anything but training it.

Fairness: the process executor's children are started and warmed (torch imported) before any
timing, and one untimed warm-up round runs all three first, so neither side pays torch's import or
its first-optimizer cost in a timed run. (a) and (c) time `Sweep(...)` + `run()` into a fresh
temporary store; (b) times `create_study` + `optimize`. Every trial costs the same (fixed
architecture, no early stopping), so Optuna's n_jobs>1 reseeding of its sampler (its points then do
not follow the seed) does not change the work. Prints the wall times per round, the median ratio a/b
and the median parallel efficiency, and, per run, how many cores other processes kept busy meanwhile
(the box is shared: a round where others hold a core leaves (a) one core instead of two).
Figures and the command: docs/performance.md.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import load  # benchmarks/machine.py, beside this script

# One trial: 3,000 samples (2,100 to train: 33 steps of 64 per epoch), 20 epochs of an MLP 32 (1.2k
# parameters, so one torch thread either way), about 0.6-0.9 s on an idle core of the 2-core box.
BASE = {"task": {"name": "toy2d", "n_samples": 3000}, "model": {"kind": "mlp", "hidden": [32]},
        "optim": {"optimizer": "adam", "batch_size": 64, "max_epochs": 20},
        "early_stop": {"patience": 0}, "run": {"device": "cpu"}}
# key -> (low, high, log). Every point costs the same: dropout stays above 0 so the layer is always there.
SPACE = {"optim.lr": (1e-3, 1e-1, True), "reg.weight_decay": (1e-6, 1e-3, True), "reg.dropout": (0.05, 0.3, False)}
SEED = 0
PARALLEL = 2
WARM_UP_TRIALS = 4


def search_table(trials: int, parallel: int) -> dict[str, Any]:
    table: dict[str, Any] = {"strategy": "random", "trials": trials, "parallel": parallel, "pruner": "none",
                             "seed": SEED, "metric": "val_loss"}
    for key, (low, high, log) in SPACE.items():
        table[key] = {"low": low, "high": high, "log": log}
    return table


def tunedeck_sweep(base: Any, trials: int, parallel: int, executor: Any, workdir: Path) -> tuple[float, int, float]:
    """(seconds, completed trials, best val_loss) of one Sweep into a fresh store."""
    from engine.execution.placement import threads_per_trial
    from engine.execution.pool import TrialPool
    from engine.store import Store
    from engine.sweeps.spec import parse_search
    from engine.sweeps.sweep import Sweep

    spec = parse_search(search_table(trials, parallel), base)
    store = Store(workdir / f"sweep-{time.monotonic_ns()}.db")
    try:
        started = time.perf_counter()
        pool = TrialPool(store, executor, parallel=0, threads=threads_per_trial(parallel))
        sweep = Sweep(store, base, spec, pool)
        sweep.run()
        seconds = time.perf_counter() - started
        progress = sweep.progress()
    finally:
        store.close()
    return seconds, progress.completed, progress.best_value if progress.best_value is not None else math.nan


def optuna_threads(base: Any, trials: int, n_jobs: int) -> tuple[float, int, float]:
    """(seconds, completed trials, best val_loss) of Optuna's own optimize() with n_jobs threads."""
    import optuna

    def objective(trial: optuna.Trial) -> float:
        updates = {key: trial.suggest_float(key, low, high, log=log) for key, (low, high, log) in SPACE.items()}
        return best_val_loss(base.with_updates(updates))  # NaN: Optuna records it failed, as tunedeck's sweep does

    started = time.perf_counter()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=SEED))
    study.optimize(objective, n_trials=trials, n_jobs=n_jobs)
    seconds = time.perf_counter() - started
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return seconds, len(completed), study.best_value if completed else math.nan


def best_val_loss(config: Any) -> float:
    """The objective every side trains: the best val_loss of one trial through the engine's own loop (NaN
    when it did not finish with results)."""
    from engine.events import EpochEnded, TrialFinished
    from engine.training.loop import train

    best, finished = math.inf, None
    for event in train(config):
        if isinstance(event, EpochEnded) and math.isfinite(event.val_loss):
            best = min(best, event.val_loss)
        elif isinstance(event, TrialFinished):
            finished = event
    if finished is None or not finished.state.has_results or not math.isfinite(best):
        return math.nan
    return best


def bare_trial_seconds(base: Any, count: int = 4) -> float:
    """Mean seconds of one trial trained bare in this process (one torch thread), points drawn as a sweep's."""
    import random

    rng = random.Random(SEED)
    started = time.perf_counter()
    for _ in range(count):
        updates = {key: math.exp(rng.uniform(math.log(low), math.log(high))) if log else rng.uniform(low, high)
                   for key, (low, high, log) in SPACE.items()}
        best_val_loss(base.with_updates(updates))
    return (time.perf_counter() - started) / count


def ray_tune(trials: int, workdir: Path) -> tuple[float, int, float]:
    """(seconds, completed trials, best val_loss) of Ray Tune's Tuner on the same objective, 2 at a time."""
    from ray import tune

    def trainable(config: dict) -> dict:
        import torch

        from engine.config.groups import Config

        torch.set_num_threads(1)
        return {"val_loss": best_val_loss(Config.from_dict(BASE).with_updates(config))}

    space = {key: (tune.loguniform if log else tune.uniform)(low, high) for key, (low, high, log) in SPACE.items()}
    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space=space,
                       tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=PARALLEL,
                                                   metric="val_loss", mode="min",
                                                   reuse_actors=True),  # its fastest set-up (default False)
                       run_config=tune.RunConfig(storage_path=str(workdir / "tune"), name=f"t{time.monotonic_ns()}",
                                                 verbose=0))
    started = time.perf_counter()
    results = tuner.fit()
    seconds = time.perf_counter() - started
    done = [r for r in results if r.error is None and r.metrics and math.isfinite(r.metrics.get("val_loss", math.nan))]
    best = min((r.metrics["val_loss"] for r in done), default=math.nan)
    return seconds, len(done), best


def ray_rounds(base: Any, trials: int, rounds: int, workdir: Path, a_runs: list[float], bare: float) -> None:
    """(d) and (e) on a local Ray runtime of PARALLEL CPUs, each round; then the overheads beside (a)'s."""
    from engine.execution.ray_connect import connect, shutdown
    from engine.execution.ray_executor import RayExecutor

    started = time.perf_counter()
    connect(num_cpus=PARALLEL)
    print(f"local Ray runtime ({PARALLEL} CPUs, 127.0.0.1, no dashboard) started in "
          f"{time.perf_counter() - started:.1f} s, before any timing", flush=True)
    d_runs, e_runs = [], []
    try:
        for r in range(1, rounds + 1):
            executor = RayExecutor()
            try:
                executor.prewarm(PARALLEL, wait=180)  # its actors import torch before the clock, as (a)'s children
                if r == 1:  # untimed, as (a)'s warm-up round
                    tunedeck_sweep(base, WARM_UP_TRIALS, PARALLEL, executor, workdir)
                d, d_done, d_best = tunedeck_sweep(base, trials, PARALLEL, executor, workdir)
            finally:
                executor.shutdown()  # its actors give their CPUs back to Tune
            if r == 1:
                ray_tune(WARM_UP_TRIALS, workdir)  # untimed
            e, e_done, e_best = ray_tune(trials, workdir)
            d_runs.append(d)
            e_runs.append(e)
            print(f"ray round {r}: (d) tunedeck RayExecutor {d:.2f}s, (e) Ray Tune Tuner {e:.2f}s; best val_loss "
                  f"{d_best:.4f} / {e_best:.4f}, trials completed {d_done} / {e_done}", flush=True)
    finally:
        shutdown()
    print(f"one trial trained bare here: {bare:.2f} s; overhead per trial = wall * {PARALLEL} / trials - that:")
    for label, runs in (("(a) tunedeck ProcessExecutor", a_runs), ("(d) tunedeck RayExecutor", d_runs),
                        ("(e) Ray Tune Tuner", e_runs)):
        wall = statistics.median(runs)
        print(f"  {label:<30} median wall {wall:>7.2f} s, overhead per trial {wall * PARALLEL / trials - bare:>6.2f} s")


class OtherLoad:
    """Cores kept busy by other processes while a run was timed: the box's busy time from /proc/stat,
    less this process's and its trainer children's CPU time. None where /proc is missing."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.start = self._sample()
        self.started = time.perf_counter()

    def _sample(self) -> tuple[float, float] | None:
        try:
            tick = os.sysconf("SC_CLK_TCK")
            with open("/proc/stat") as fh:
                f = [int(x) for x in fh.readline().split()[1:]]
            box = (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)) / tick  # all but idle, iowait
            t = os.times()
            ours = t.user + t.system
            for pid in self.pids:
                with open(f"/proc/{pid}/stat") as fh:
                    stat = fh.read()
                fields = stat[stat.rfind(")") + 2:].split()
                ours += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            return box, ours
        except (OSError, ValueError, IndexError, AttributeError):
            return None

    def cores(self) -> float | None:
        end, seconds = self._sample(), time.perf_counter() - self.started
        if self.start is None or end is None or seconds <= 0:
            return None
        return max(0.0, (end[0] - self.start[0]) - (end[1] - self.start[1])) / seconds


def cores_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=None, help="trials per sweep (default 32; 8 with --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 8 trials, 1 round")
    parser.add_argument("--ray", action="store_true", help="also (d) the Ray executor and (e) Ray Tune's Tuner")
    args = parser.parse_args()
    trials = args.trials if args.trials is not None else (8 if args.quick else 32)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if trials < 1 or rounds < 1:
        parser.error("--trials and --rounds must be >= 1")

    import optuna
    import torch

    from engine.config.groups import Config
    from engine.execution.placement import cpu_cores, threads_per_trial
    from engine.execution.trainer_process import ProcessExecutor

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no log line per trial on either side
    torch.set_num_threads(1)  # (b): each of Optuna's 2 threads trains one trial, like threads_per_trial(2)
    base = Config.from_dict(BASE)
    print(f"{cpu_cores()} usable cores, load average {load()} at the start; {trials} random trials per sweep "
          f"(toy2d {BASE['task']['n_samples']} samples, MLP {BASE['model']['hidden']}, "
          f"{BASE['optim']['max_epochs']} epochs), median of {rounds} alternating rounds")
    print(f"(a) tunedeck Sweep + ProcessExecutor, parallel {PARALLEL}, {threads_per_trial(PARALLEL)} torch thread(s) "
          f"per trial; (b) optuna study.optimize n_jobs={PARALLEL}, torch threads {torch.get_num_threads()}; "
          f"(c) tunedeck parallel 1")
    executor = ProcessExecutor()
    try:
        with tempfile.TemporaryDirectory(prefix="tunedeck-bench-") as tmp:
            workdir = Path(tmp)
            started = time.perf_counter()
            executor.prewarm(PARALLEL, wait=120)
            print(f"prewarmed {PARALLEL} trainer processes (torch imported) in {time.perf_counter() - started:.1f} s, "
                  f"before any timing", flush=True)
            started = time.perf_counter()
            tunedeck_sweep(base, WARM_UP_TRIALS, PARALLEL, executor, workdir)
            optuna_threads(base, WARM_UP_TRIALS, PARALLEL)
            tunedeck_sweep(base, WARM_UP_TRIALS, 1, executor, workdir)
            print(f"warm-up round, untimed ({WARM_UP_TRIALS} trials each way): {time.perf_counter() - started:.1f} s",
                  flush=True)
            print(f"{'round':<6} {'(a) p=2':>9} {'(b) optuna':>11} {'(c) p=1':>9} {'a/b':>6} {'eff.':>6}   "
                  f"{'others':>15}   best val_loss a / b / c, trials completed")
            a_runs, b_runs, c_runs, ratios, effs = [], [], [], [], []
            pids = list(executor.pinned)
            for r in range(1, rounds + 1):
                meter = OtherLoad(pids)
                a, a_done, a_best = tunedeck_sweep(base, trials, PARALLEL, executor, workdir)
                a_load, meter = meter.cores(), OtherLoad(pids)
                b, b_done, b_best = optuna_threads(base, trials, PARALLEL)
                b_load, meter = meter.cores(), OtherLoad(pids)
                c, c_done, c_best = tunedeck_sweep(base, trials, 1, executor, workdir)
                c_load = meter.cores()
                others = " / ".join(cores_text(x) for x in (a_load, b_load, c_load))
                a_runs.append(a)
                b_runs.append(b)
                c_runs.append(c)
                ratios.append(a / b)
                effs.append(c / (PARALLEL * a))
                print(f"{r:<6} {a:>8.2f}s {b:>10.2f}s {c:>8.2f}s {a / b:>6.2f} {effs[-1]:>6.2f}   {others:>15}   "
                      f"{a_best:.4f} / {b_best:.4f} / {c_best:.4f}, {a_done} / {b_done} / {c_done}", flush=True)
            if args.ray:
                ray_rounds(base, trials, rounds, workdir, a_runs, bare_trial_seconds(base))
    finally:
        executor.shutdown()
    print(f"median  {statistics.median(a_runs):>7.2f}s {statistics.median(b_runs):>10.2f}s "
          f"{statistics.median(c_runs):>8.2f}s")
    print(f"tunedeck parallel={PARALLEL} / optuna n_jobs={PARALLEL}, median ratio a/b: {statistics.median(ratios):.2f} "
          f"(each round: {', '.join(f'{x:.2f}' for x in ratios)}; below 1 is tunedeck faster)")
    print(f"parallel efficiency, time(p=1) / ({PARALLEL} * time(p={PARALLEL})): median {statistics.median(effs):.2f} "
          f"(each round: {', '.join(f'{x:.2f}' for x in effs)})")
    print("others: cores kept busy by other processes during (a) / (b) / (c) (/proc/stat less this benchmark's "
          "own CPU time); a round with others near 1 or more leaves (a) one core, not two")
    print(f"load average {load()} at the end")
    return 0


if __name__ == "__main__":  # spawned trainer processes re-import this module: nothing may run on import
    started = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - started:.0f} s)")
    raise SystemExit(code)
