"""What `run.log` costs a small training loop: the same pure-PyTorch loop with and without it.

    python benchmarks/log_overhead.py [--rounds 10] [--steps 4000] [--threads 1]

A toy MLP (32 -> 64 -> 64 -> 2, Adam, batch 64) trains on random data for `--steps` steps a round.
Rounds go in threes, in turn: the bare loop, the logged loop, and the bare loop again (the A/A
control: how much two identical rounds differ on this machine). The logged loop calls
`run.log(step=..., loss=...)` every step and `run.log(epoch=..., train_loss=..., val_loss=...,
val_acc=...)` after each epoch of 100 steps, all rounds into one trial (one long run, so its
flusher thread commits during the rounds, once a second, as it would in a real one; after each
logged round it waits for the flusher's commit, so that none falls in a bare round) of a store in
a temporary folder. Both loops take `loss.item()` every step (a loop that averages or prints its
loss does), so the difference is what `run.log` and its flusher add. Prints the median of the
per-round ratios for wall time and for the process's CPU time (every thread: the flusher's too),
the control's, and the cost of one `run.log` call and of one flush measured on their own.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

import tunedeck
from engine.store.script_runs import ScriptProgress

STEPS_PER_EPOCH = 100
BATCH = 64


def make_loop(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 2))
    x = torch.randn(STEPS_PER_EPOCH * BATCH, 32)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return model, torch.optim.Adam(model.parameters(), lr=1e-3), x, y


def one_round(steps: int, run: tunedeck.Run | None, offset: int) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of the process: the flusher's too) for `steps` training
    steps, logging into `run` when one is given."""
    model, opt, x, y = make_loop(0)
    loss_fn = torch.nn.CrossEntropyLoss()
    started, cpu = time.perf_counter(), time.process_time()
    total = 0.0
    for step in range(1, steps + 1):
        i = (step - 1) % STEPS_PER_EPOCH
        xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()
        total += value
        if run is not None:
            run.log(step=offset + step, loss=value)
        if step % STEPS_PER_EPOCH == 0:
            epoch = (offset + step) // STEPS_PER_EPOCH
            if run is not None:
                run.log(epoch=epoch, train_loss=total / STEPS_PER_EPOCH, val_loss=value, val_acc=0.5)
            total = 0.0
    return time.perf_counter() - started, time.process_time() - cpu


def call_cost(calls: int = 200_000) -> tuple[float, float, int]:
    """Seconds per `run.log(step=, loss=)` call, measured alone; seconds per stored row of a flush."""
    with tunedeck.init(name="log-call-cost") as run:
        started = time.perf_counter()
        for step in range(1, calls + 1):
            run.log(step=step, loss=0.5)
        call = (time.perf_counter() - started) / calls
        rows = [(1, step, "step_loss", 0.5) for step in range(1, 4001)]
        started = time.perf_counter()
        for _ in range(5):
            run.store.log_script(run.trial_id, rows, ScriptProgress(1, 4000))
        return call, (time.perf_counter() - started) / (5 * len(rows)), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the auto choice for a toy model)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="tunedeck-log-overhead-") as folder:
        os.environ["TUNEDECK_STORE"] = str(Path(folder) / "bench.db")
        os.environ.pop("TUNEDECK_TRIAL", None)
        _measure(args)


def _ratios(over: list[tuple[float, float]], under: list[tuple[float, float]], index: int) -> float:
    return statistics.median(a[index] / b[index] for a, b in zip(over, under))


def _flushed(run: tunedeck.Run) -> None:
    """Wait for the flusher's next commit, so that it stores the round's tail between rounds, not
    during a bare one (with rounds of about a second, each logged round then pays about one flush)."""
    commits, deadline = run.commits, time.monotonic() + 3
    while run.commits == commits and time.monotonic() < deadline:
        time.sleep(0.01)


def _measure(args: argparse.Namespace) -> None:
    one_round(300, None, 0)  # warm-up: allocator, kernels, the store's first open
    bare: list[tuple[float, float]] = []
    control: list[tuple[float, float]] = []
    logged: list[tuple[float, float]] = []
    began = time.perf_counter()
    run = tunedeck.init(config={"optim.lr": 1e-3, "hidden": 64}, name="logged")
    opened = time.perf_counter() - began
    for index in range(args.rounds):
        bare.append(one_round(args.steps, None, 0))
        logged.append(one_round(args.steps, run, index * args.steps))
        _flushed(run)
        control.append(one_round(args.steps, None, 0))
    began = time.perf_counter()
    run.finish()
    closed = time.perf_counter() - began
    call, row, rows = call_cost()
    base = [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(bare, control)]
    step = statistics.median(r[0] for r in base) / args.steps
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.rounds} x (bare, logged, bare) rounds of "
          f"{args.steps} steps; bare step {step * 1e6:.1f} us")
    for index, what in enumerate(("wall", "CPU ")):
        print(f"{what}  logged / bare {_ratios(logged, base, index):.4f}   "
              f"control: bare / bare {_ratios(control, bare, index):.4f}")
    print(f"one run.log(step=, loss=) call alone: {call * 1e6:.2f} us = {call / step * 100:.2f} % of a bare step")
    print(f"one flush of {rows} rows: {row * rows * 1e3:.1f} ms, {row * 1e6:.2f} us a row = "
          f"{row / step * 100:.2f} % of a bare step (each logged step is a row, stored once)")
    print(f"the trial: {run.commits} commits for {args.rounds * args.steps} steps in "
          f"{sum(r[0] for r in logged):.1f} s of logged rounds; init {opened * 1e3:.1f} ms, finish {closed * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
