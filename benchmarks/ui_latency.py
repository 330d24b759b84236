"""Keystroke to screen while a trial trains, with a history of 0, 10^4 and 10^5 epochs; the UI's CPU share.

    python benchmarks/ui_latency.py [--keys 40] [--sizes 120x36,80x24] [--histories 0,10000,100000]

For each history length and terminal size: a store with one running trial that already has that
many epochs (5 metrics and 2 step losses each, inserted in bulk), and a writer process (this
script with `--write`) appending to it what a fast trainer commits: an epoch with its step losses
every 20 ms (50 epochs/s). `tunedeck` (the console script beside this Python) then runs on the
store in a pseudo-terminal of that size; once its status line shows the running trial, ctrl+f
jumps to the `name` field, and `--keys` letters are typed one at a time, 0.15 s apart. Each key's
latency is the time from writing it to the pty until the field's new text (a prefix `ZQX` and the
letters so far) appears in what the cockpit draws. Printed per case: median and max latency, and
the cockpit process's CPU time divided by the wall time (its share of one core) over 5 s of
watching before the typing, and over the typing.
Targets (issue 12): median <= 50 ms, max <= 150 ms, CPU <= 10 % of a core with one trial running.
The trainer is fake on purpose: what is measured is the UI's cost, not training.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import sqlite3
import statistics
import string
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from engine.config.presets import load_preset
from engine.events import EpochEnded, StepLoss, TrialStarted
from engine.store import Store

WRITE_SECONDS = 0.02
STEPS = 2
GAP = 0.15
WATCH_SECONDS = 5.0


def prefill(path: Path, epochs: int) -> int:
    """A store with one trial running in this process's name, `epochs` epochs of history already stored."""
    store = Store(path)
    trial_id = store.create_trial(load_preset("toy2d-mlp").with_updates({"optim.max_epochs": 1_000_000,
                                                                         "early_stop.patience": 0}))
    store.start_trial(trial_id, TrialStarted("cpu", 65, 700, 150, 150, STEPS, "binary", 1), {})
    if epochs:
        rows = []
        for epoch in range(1, epochs + 1):
            loss = 0.7 / (1 + 0.001 * epoch)
            rows += [(trial_id, epoch, STEPS * (epoch - 1) + k + 1, "step_loss", loss * 1.1) for k in range(STEPS)]
            rows += [(trial_id, epoch, STEPS * epoch, m, v) for m, v in
                     (("train_loss", loss), ("val_loss", loss), ("val_acc", 0.9), ("lr", 1e-3), ("epoch_seconds", 0.02))]
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO metrics (trial_id, epoch, step, metric, value) VALUES (?, ?, ?, ?, ?)", rows)
        conn.execute("UPDATE trials SET epochs_run = ?, steps = ? WHERE id = ?", (epochs, STEPS * epochs, trial_id))
        conn.execute("COMMIT")
        conn.close()
    store.close()
    return trial_id


def write(path: Path, trial_id: int, first: int, parent: int) -> None:
    """The fake trainer: an epoch every WRITE_SECONDS until the benchmark that started it is gone."""
    store = Store(path)
    epoch = first
    while os.getppid() == parent:
        epoch += 1
        loss = 0.7 / (1 + 0.001 * epoch)
        for k in range(STEPS):
            store.record(trial_id, StepLoss(epoch, STEPS * (epoch - 1) + k + 1, loss * 1.1))
        store.record(trial_id, EpochEnded(epoch, STEPS * epoch, loss, loss, 0.9, 1e-3, WRITE_SECONDS, improved=True))
        time.sleep(WRITE_SECONDS)


class Screen:
    """The cockpit in a pty: what it drew since a mark, read without blocking it."""

    def __init__(self, argv: list[str], env: dict[str, str], size: tuple[int, int]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.seen = b""

    def wait_for(self, text: bytes, limit: float) -> float | None:
        start = time.perf_counter()
        while time.perf_counter() - start < limit:
            if text in self.seen:
                return time.perf_counter() - start
            if select.select([self.fd], [], [], 0.002)[0]:
                try:
                    self.seen += os.read(self.fd, 1 << 16)
                except OSError:
                    return None
        return None

    def send(self, data: bytes) -> None:
        self.seen = b""
        os.write(self.fd, data)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def measure(history: int, size: tuple[int, int], keys: int, code: Path | None = None
            ) -> tuple[list[float], float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.db"
        trial_id = prefill(path, history)
        writer = subprocess.Popen([sys.executable, __file__, "--write", str(path), str(trial_id), str(history)])
        env = {**os.environ, "TERM": "xterm-256color", "TUNEDECK_STORE": str(path)}
        if code is not None:  # the cockpit's code from another tree (before a change), the same way
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))
        screen = Screen([str(Path(sys.executable).with_name("tunedeck"))], env, size)
        try:
            if screen.wait_for(b"running #", 60) is None:
                raise SystemExit("the cockpit did not show the running trial within 60 s")
            time.sleep(2.0)  # its first load and first plot
            cpu0, wall0 = screen.cpu_seconds(), time.perf_counter()
            time.sleep(WATCH_SECONDS)  # the user watches the curve grow
            watching = (screen.cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
            screen.send(b"\x06")  # ctrl+f: jump to a knob
            screen.wait_for(b"Jump to a knob", 10)
            screen.send(b"name\r")
            time.sleep(1.0)
            screen.send(b"ZQX")  # a prefix no screen shows otherwise: each key is found as its suffix
            screen.wait_for(b"ZQX", 10)
            typed = "ZQX"
            latencies: list[float] = []
            cpu0, wall0 = screen.cpu_seconds(), time.perf_counter()
            for i in range(keys):
                letter = string.ascii_lowercase[i % 26]
                typed += letter
                screen.send(letter.encode())
                sent = time.perf_counter()
                if screen.wait_for(typed[-10:].encode(), 5) is None:
                    raise SystemExit(f"key {i + 1} ({letter!r}) never showed")
                latencies.append(time.perf_counter() - sent)
                time.sleep(GAP)
            share = (screen.cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
            epochs = Store(path).trial(trial_id).epochs_run
            return latencies, watching, share, epochs
        finally:
            screen.close()
            writer.kill()
            writer.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--sizes", default="120x36,80x24")
    parser.add_argument("--histories", default="0,10000,100000")
    parser.add_argument("--alt", type=Path, default=None, metavar="DIR",
                        help="also measure the cockpit with its code imported from DIR (a checkout before a change)")
    parser.add_argument("--write", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write(Path(args.write[0]), int(args.write[1]), int(args.write[2]), os.getppid())
        return
    print(f"{args.keys} keys typed into a field, {GAP} s apart, one trial running (a fake trainer: "
          f"{1 / WRITE_SECONDS:.0f} epochs/s); load average {os.getloadavg()[0]:.2f}", flush=True)
    for history in (int(h) for h in args.histories.split(",")):
        for size in (tuple(int(p) for p in s.split("x")) for s in args.sizes.split(",")):
            for label, code in [("", None)] + ([("alt ", args.alt)] if args.alt else []):
                report(label, history, size, *measure(history, size, args.keys, code))  # type: ignore[arg-type]


def report(label: str, history: int, size: tuple[int, int], latencies: list[float], watching: float, share: float,
           epochs: int) -> None:
    ms = sorted(1000 * t for t in latencies)
    print(f"{label}history {history:>7} epochs, {size[0]}x{size[1]}: keystroke to screen median "
          f"{statistics.median(ms):5.1f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:5.1f} ms, max {ms[-1]:5.1f} ms; "
          f"cockpit CPU (% of a core) watching {100 * watching:4.1f}, typing {100 * share:4.1f}; "
          f"the trial at epoch {epochs}", flush=True)


if __name__ == "__main__":
    main()
