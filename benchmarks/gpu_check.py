"""tunedeck on a CUDA machine: a check of at most five minutes, for a lent accelerator.

    python benchmarks/gpu_check.py [--rounds 2]

Each check prints one line, `ok` or `FAIL`, with its figures and ratios; the exit status is 1 when one
failed (a check that raises is a FAIL with the error, and the others still run):

  devices     run.device `cuda` and `cuda:N` (the last GPU) resolve, `cuda:<count>` is refused in one
              line; a trial on cuda:N completes and records that GPU (physical index, through
              CUDA_VISIBLE_DEVICES), its name and its peak memory (torch.cuda.max_memory_allocated).
  parallel    a sweep of two trials at once in warm trainer processes, each pinned by the placement with
              CUDA_VISIBLE_DEVICES: each trial records its own trainer's GPU; with two GPUs or more the
              two differ, and with run.gpus_per_trial = 0.5 both pack onto one GPU.
  precision   the same trial in fp32, bf16 autocast and fp16 autocast with the GradScaler: each completes,
              its best val_loss against fp32's (bf16 skipped where the GPU lacks it).
  checkpoint  a trial cancelled after epoch 2 (a `last` checkpoint every epoch) and resumed on the GPU:
              it goes on from epoch 2, completes, and ends within 1e-3 (relative) of the uninterrupted trial.
  panel       the device panel's figures (NVML) against nvidia-smi's, per GPU: name, memory used and
              total, temperature, power (used memory and power move between the two reads).
  speed       steps/s of a 10.3 M-parameter MLP (toy2d, 3200x3200, batch 64, one torch thread, epoch 1
              left out): bare (the loop in this process) against through the store's supervisor with the
              cockpit attached (a headless Textual app, `run_test`, that queues it and follows it), as in
              benchmarks/ui_overhead.py, whose functions it uses; the ratio per round and its median.

On a machine without CUDA it prints one line saying so and exits 0. docs/performance.md says how to run
it and what it found.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import load  # benchmarks/machine.py, beside this script

SMALL: dict[str, Any] = {"task": {"name": "toy2d", "n_samples": 4000}, "model": {"hidden": [64, 64]},
                         "optim": {"batch_size": 64, "max_epochs": 4}, "early_stop": {"patience": 0},
                         "run": {"threads": 1, "device": "cuda", "checkpoint": "none"}}
LARGE_HIDDEN = [3200, 3200]  # 10.3 M parameters on toy2d's two inputs
Check = Callable[[Path], tuple[bool, str]]


def small(**run: Any) -> Any:
    from engine.config.groups import Config

    return Config.from_dict({**SMALL, "run": {**SMALL["run"], **run}})


def train(store: Any, config: Any, **options: Any) -> Any:
    """A trial trained here through TrialRun (recorded as any trial is); its stored record."""
    from engine.execution.runner import TrialRun

    run = TrialRun(store, config, **options)
    for _ in run:
        pass
    return store.trial(run.trial_id)


def check_devices(tmp: Path) -> tuple[bool, str]:
    import torch

    from engine.devices.trial_gpu import GPU_INDEX, GPU_NAME, PEAK_GPU_MB, physical_gpu
    from engine.errors import ConfigError
    from engine.states import TrialState
    from engine.store import Store
    from engine.training.device import resolve_device

    count = torch.cuda.device_count()
    last = count - 1
    ok = resolve_device("cuda").type == "cuda" and resolve_device(f"cuda:{last}") == torch.device("cuda", last)
    try:
        resolve_device(f"cuda:{count}")
        refused = "NOT refused"
        ok = False
    except ConfigError as exc:
        refused = str(exc)
        ok = ok and "\n" not in refused
    with Store(tmp / "devices.db") as store:
        r = train(store, small(device=f"cuda:{last}"))
    want = physical_gpu(last, os.environ.get("CUDA_VISIBLE_DEVICES"))
    peak = r.run_info.get(PEAK_GPU_MB)
    ok = ok and r.state is TrialState.COMPLETED and r.env.get(GPU_INDEX) == want and bool(peak)
    return ok, (f"{count} GPU(s); a trial on cuda:{last} ran on GPU {r.env.get(GPU_INDEX)} (want {want}, "
                f"{r.env.get(GPU_NAME)}), {r.state.value}, peak {peak} MiB; cuda:{count}: {refused}")


def check_parallel(tmp: Path) -> tuple[bool, str]:
    from engine.devices.trial_gpu import GPU_INDEX
    from engine.execution.placement import Placement
    from engine.execution.pool import TrialPool
    from engine.execution.trainer_process import ProcessExecutor
    from engine.store import Store
    from engine.sweeps.spec import parse_search
    from engine.sweeps.sweep import Sweep

    ok, parts = True, []
    for share in (1.0, 0.5):
        placement = Placement.detect(share=share)
        if placement is None:
            return False, "nvidia-smi lists no GPU: the placement has nothing to pin trainers to"
        executor = ProcessExecutor(placement=placement)
        try:
            with Store(tmp / f"parallel-{share}.db") as store:
                base = small(gpus_per_trial=share)
                spec = parse_search({"strategy": "grid", "parallel": 2, "optim.lr": [0.01, 0.03]}, base)
                state = Sweep(store, base, spec, TrialPool(store, executor, parallel=0)).run()
                trials = store.trials()
                pinned = executor.pinned
        finally:
            executor.shutdown()
        gpus = [t.env.get(GPU_INDEX) for t in trials]
        own = all(pinned.get(t.env.get("pid")) == t.env.get(GPU_INDEX) for t in trials)
        a, b = (trials + trials)[:2]  # a sweep that stopped early may have made one trial only
        overlap = (len(trials) == 2 and None not in (a.started_at, a.finished_at, b.started_at, b.finished_at)
                   and a.started_at < b.finished_at and b.started_at < a.finished_at)
        if share < 1 or len(placement.gpus) == 1:
            spread = len(set(gpus)) == 1
        else:
            spread = len(set(gpus)) == 2
        done = all(t.state.value == "completed" for t in trials)
        ok = ok and state == "completed" and done and own and spread and overlap
        parts.append(f"gpus_per_trial {share:g}: sweep {state}, trials {[t.state.value for t in trials]} on "
                     f"GPUs {gpus} (their trainers' {own}, at once {overlap})")
    return ok, f"{len(placement.gpus)} GPU(s) placed; " + "; ".join(parts)


def check_precision(tmp: Path) -> tuple[bool, str]:
    import torch

    from engine.states import TrialState
    from engine.store import Store

    losses: dict[str, float | None] = {}
    ok = True
    with Store(tmp / "precision.db") as store:
        for precision in ("fp32", "bf16", "fp16"):
            if precision == "bf16" and not torch.cuda.is_bf16_supported():
                losses[precision] = None
                continue
            r = train(store, small(precision=precision))
            loss = r.best_val_loss
            ok = ok and r.state is TrialState.COMPLETED and loss is not None and math.isfinite(loss)
            losses[precision] = loss
    base = losses["fp32"] or float("nan")
    text = [f"fp32 val_loss {base:.4f}"]
    for precision, label in (("bf16", "bf16"), ("fp16", "fp16 + GradScaler")):
        value = losses[precision]
        text.append(f"{label} skipped (not supported)" if value is None
                    else f"{label} {value:.4f} (x{value / base:.3f})")
    return ok, "; ".join(text)


def check_checkpoint(tmp: Path) -> tuple[bool, str]:
    from engine.events import EpochEnded, StopSignal
    from engine.execution.runner import TrialRun
    from engine.states import TrialState
    from engine.store import Store

    config = small(checkpoint="both", checkpoint_every=0.0)
    with Store(tmp / "checkpoint.db") as store:
        whole = train(store, config)
        stop = StopSignal()
        run = TrialRun(store, config, cancel=stop)
        for event in run:
            if isinstance(event, EpochEnded) and event.epoch == 2:
                stop.set()
        cancelled = store.trial(run.trial_id).state
        requeued = store.requeue(run.trial_id)
        again = TrialRun(store, config, trial_id=run.trial_id)
        for _ in again:
            pass
        resumed = store.trial(run.trial_id)
    want, got = whole.best_val_loss or float("nan"), resumed.best_val_loss or float("nan")
    diff = abs(got - want) / max(1.0, abs(want))
    ok = (cancelled is TrialState.CANCELLED and requeued and again.resumed_from == 2
          and resumed.state is TrialState.COMPLETED and diff <= 1e-3)
    return ok, (f"cancelled after epoch 2 ({cancelled.value}), resumed from epoch {again.resumed_from} on "
                f"{resumed.device}: {resumed.state.value}, best val_loss {got:.6f} against {want:.6f} "
                f"uninterrupted (relative difference {diff:.1e})")


def check_panel(tmp: Path) -> tuple[bool, str]:
    from engine.devices.nvml import read_gpus

    gpus, problem = read_gpus()
    if not gpus:
        return False, f"the panel shows no GPU: {problem}"
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False, "nvidia-smi is not on PATH: nothing to compare with"
    out = subprocess.run([exe, "--query-gpu=index,name,memory.used,memory.total,temperature.gpu,power.draw",
                          "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=30, check=True)
    smi = {int(p[0]): p for p in ([x.strip() for x in line.split(",")] for line in out.stdout.splitlines())
           if p and p[0].isdigit()}
    ok, parts = True, []
    for g in gpus:
        row = smi.get(g.index)
        if row is None:
            ok = False
            parts.append(f"GPU {g.index}: not in nvidia-smi")
            continue
        used, total, temp = float(row[2]), float(row[3]), float(row[4])
        power = float(row[5]) if row[5].replace(".", "", 1).isdigit() else None
        same = (g.name == row[1] and g.memory_total_mb is not None and abs(g.memory_total_mb - total) <= 0.01 * total
                and g.memory_used_mb is not None and abs(g.memory_used_mb - used) <= max(512.0, 0.05 * total)
                and g.temperature is not None and abs(g.temperature - temp) <= 3)
        ok = ok and same
        parts.append(f"GPU {g.index} {g.name} (panel/smi): used {g.memory_used_mb}/{used:.0f} MiB, total "
                     f"{g.memory_total_mb}/{total:.0f} MiB, {g.temperature}/{temp:.0f} C, "
                     f"{_num(g.power_w)}/{_num(power)} W, {g.utilisation}% busy")
    return ok, "; ".join(parts)


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def check_speed(tmp: Path, rounds: int) -> tuple[bool, str]:
    from ui_overhead import (  # benchmarks/ui_overhead.py, beside this script
        SAFETY_IDLE_EXIT,
        RecordingClient,
        bare,
        detached,
        shut_down,
        stored_steps_per_second,
        with_cockpit,
    )

    from engine.config.groups import Config
    from engine.devices.trial_gpu import PEAK_GPU_MB
    from engine.execution.trainer_process import prepare_multiprocessing
    from engine.store import Store
    from engine.supervisor.launch import ensure_supervisor
    from engine.training.loop import train as train_events

    prepare_multiprocessing()
    config = Config.from_dict({**SMALL, "task": {"name": "toy2d", "n_samples": 20000}, "model": {"hidden": LARGE_HIDDEN},
                               "optim": {"batch_size": 64, "max_epochs": 4}})
    store = Store(tmp / "speed.db")
    client = RecordingClient(store, launch=lambda: ensure_supervisor(store.path, idle_exit=SAFETY_IDLE_EXIT))
    ratios, a_runs, b_runs, peak, params = [], [], [], None, 0
    try:
        client.ensure()
        detached(config.with_updates({"optim.max_epochs": 1}), store, client)  # warms the supervisor's trainer
        list(train_events(config.with_updates({"optim.max_epochs": 1})))  # and this process's CUDA context
        for _ in range(rounds):
            a = bare(config)
            trial_id, _ui = asyncio.run(with_cockpit(config, store, client))
            b = stored_steps_per_second(store, trial_id)
            record = store.trial(trial_id)
            peak, params = record.run_info.get(PEAK_GPU_MB), record.n_params or 0
            a_runs.append(a)
            b_runs.append(b)
            ratios.append(b / a)
    finally:
        shut_down(client)
        store.close()
    median = statistics.median(ratios)
    return median >= 0.9, (f"{params / 1e6:.1f} M params: bare {statistics.median(a_runs):.0f} steps/s, supervisor + cockpit "
                           f"{statistics.median(b_runs):.0f} steps/s, ratio {median:.2f} "
                           f"({', '.join(f'{r:.2f}' for r in ratios)}); its peak GPU memory {peak} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the speed check (bare, then cockpit)")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device on this machine (torch {torch.__version__}, CUDA build "
              f"{torch.version.cuda or 'none'}): nothing to check here", flush=True)
        return 0
    print(f"gpu_check: torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}, "
          f"load {load()}", flush=True)
    checks: list[tuple[str, Check]] = [
        ("devices", check_devices), ("parallel", check_parallel), ("precision", check_precision),
        ("checkpoint", check_checkpoint), ("panel", check_panel),
        ("speed", lambda tmp: check_speed(tmp, args.rounds)),
    ]
    failed = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, check in checks:
            started = time.perf_counter()
            try:
                ok, text = check(Path(folder))
            except Exception as exc:  # noqa: BLE001 - a check that breaks is a failure to report, not the end
                ok, text = False, f"{type(exc).__name__}: {exc}"
            failed += not ok
            print(f"{name:<11} {'ok  ' if ok else 'FAIL'} {text} [{time.perf_counter() - started:.1f} s]", flush=True)
    print(f"gpu_check: {len(checks) - failed} of {len(checks)} checks ok", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
