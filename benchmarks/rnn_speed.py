"""Is an RNN epoch dominated by Python overhead? The surnames-rnn preset's steps/s through tunedeck's
loop against a bare PyTorch loop of the same model, data and batch size.

    python benchmarks/rnn_speed.py [--data surnames_with_splits.csv] [--rounds 9] [--epochs 4] [--device cpu]

Both sides train the same GRU (the preset's: 100-wide character embeddings, GRU 64, packed sequences,
a 64-wide head; the model is built by tunedeck's own builder, so the model's packing is paid on both
sides) on the same tensors (the surnames train split as char-seq index rows), batch 64, Adam, the
class-weighted cross-entropy, and each epoch ends with a validation pass and a reduce-on-plateau step,
as any loop that picks a best epoch does. The bare loop is the one a practitioner writes: a seeded
randperm, index the in-memory tensors per batch, forward, backward, step; its loss is read with
`.item()` only for the epoch's mean. tunedeck's loop runs `engine.training.loop.train(config)` on a
prepared setup and is timed from outside, between the EpochEnded events it yields, so everything it
does between two epochs counts (step-loss events, bookkeeping of the best weights, the scheduler).
The first epoch of each round is warm-up and is not counted; the same torch thread count serves
both sides (the one tunedeck chooses for this model). Rounds go bare, tunedeck, bare (the second
bare round is the A/A control). Prints the median steps/s of each side and the median of the per-round ratios, by the wall clock and by
the process's CPU time (the steadier figure on a shared machine: other processes' load does not count in it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from engine.config.presets import load_preset
from engine.events import EpochEnded, TrialStarted
from engine.training.loop import Setup, evaluate, prepare, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import load  # noqa: E402  benchmarks/machine.py, beside this script

DEFAULT_DATA = "/work/shared/datasets/surnames/surnames_with_splits.csv"
Speed = tuple[float, float]  # steps/s by the wall clock, and by CPU time


def tunedeck_round(args: argparse.Namespace) -> tuple[Speed, int]:
    """Steps/s of tunedeck's loop over epochs 2..N, and the thread count it chose."""
    config = _config(args)
    setup = prepare(config)
    marks: list[tuple[float, float]] = []
    steps = threads = 0
    for event in train(config, setup=setup):
        if isinstance(event, TrialStarted):
            steps, threads = event.steps_per_epoch, event.threads
        elif isinstance(event, EpochEnded):
            marks.append(_now())
    return _speed(steps, marks), threads


def bare_round(args: argparse.Namespace, threads: int) -> Speed:
    """Steps/s of the bare loop over epochs 2..N, on the same data, model and loss."""
    setup = prepare(_config(args))  # the same tensors, model (same seed) and class weights, nothing else
    torch.set_num_threads(threads)
    model, x, y = setup.model, setup.data.train.x, setup.data.train.y
    loss_fn = torch.nn.CrossEntropyLoss(weight=_weights(setup))
    optimizer = torch.optim.Adam(model.parameters(), lr=setup.config.optim.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    gen = torch.Generator().manual_seed(0)
    batch, n = setup.config.optim.batch_size, len(y)
    marks: list[tuple[float, float]] = []
    steps = 0
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(n, generator=gen).to(x.device)
        total = torch.zeros((), device=x.device)
        for start in range(0, n, batch):
            index = order[start:start + batch]
            loss = loss_fn(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
        steps = (n + batch - 1) // batch
        val_loss, _ = evaluate(setup, setup.data.val)  # the same validation pass tunedeck makes
        scheduler.step(val_loss)
        (total / n).item()
        marks.append(_now())
    return _speed(steps, marks)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _speed(steps_per_epoch: int, marks: list[tuple[float, float]]) -> Speed:
    """Steps/s by the wall clock and by this process's CPU time, from the first mark to the last."""
    steps = steps_per_epoch * (len(marks) - 1)
    return steps / (marks[-1][0] - marks[0][0]), steps / (marks[-1][1] - marks[0][1])


def _weights(setup: Setup) -> torch.Tensor:
    counts = torch.tensor(setup.data.class_counts or [], dtype=torch.float32)
    return (counts.sum() / (len(counts) * counts)).to(setup.device)


def _config(args: argparse.Namespace):  # noqa: ANN202 - a Config
    return load_preset("surnames-rnn", [f"task.path={args.data}", f"optim.max_epochs={args.epochs}",
                                        "early_stop.patience=0", f"run.device={args.device}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA, help="surnames_with_splits.csv")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=4, help="per round; the first is warm-up")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    tunedeck_round(args)  # warm-up: imports, allocator, the data's first read
    bare, ours, control = [], [], []
    threads = 1
    for _ in range(args.rounds):
        speed, threads = tunedeck_round(args)
        bare.append(bare_round(args, threads))
        ours.append(speed)
        control.append(bare_round(args, threads))
    print(f"torch {torch.__version__}, device {args.device}, {threads} thread(s), load {load()}; "
          f"{args.rounds} rounds x {args.epochs - 1} timed epochs, batch 64, surnames-rnn (GRU 64)")
    for index, what in enumerate(("wall", "CPU ")):
        b, t = (statistics.median(v[index] for v in side) for side in (bare, ours))
        ratio = statistics.median(x[index] / y[index] for x, y in zip(ours, bare))
        aa = statistics.median(x[index] / y[index] for x, y in zip(control, bare))
        print(f"{what}  bare {b:7.1f} steps/s   tunedeck {t:7.1f} steps/s   tunedeck / bare {ratio:.3f}   "
              f"control bare / bare {aa:.3f}")


if __name__ == "__main__":
    main()
