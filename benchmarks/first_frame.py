"""Time from the command to a usable cockpit, in a pseudo-terminal, as a user sees it.

    python benchmarks/first_frame.py [--rounds 5] [--size 120x36]

Runs `tunedeck` (the console script beside this Python) on a fresh store in a pty of the given size
and stops the clock when the screen shows the cockpit's status line ("idle"), which the cockpit
writes once the form is built and the table read: from then on keys act. Prints each round and the
median, plus, for reference, `python -c "import textual.app"` started the same way (the floor any
Textual app pays).
"""
from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

READY = b"idle"


def time_to(argv: list[str], marker: bytes | None, size: tuple[int, int], env: dict[str, str],
            limit: float = 60.0) -> float:
    """Seconds from fork to `marker` on the screen (to exit when `marker` is None)."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, env)
    columns, rows = size
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    seen = b""
    elapsed = float("nan")
    try:
        while time.perf_counter() - start < limit:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child ended: the pty is closed
                elapsed = time.perf_counter() - start
                break
            seen += chunk
            if marker is not None and marker in seen:
                elapsed = time.perf_counter() - start
                break
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", default="120x36")
    args = parser.parse_args()
    size = tuple(int(part) for part in args.size.split("x"))
    python = sys.executable
    console = str(Path(python).with_name("tunedeck"))
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "TERM": "xterm-256color", "TUNEDECK_STORE": str(Path(folder) / "t.db"),
               "TUNEDECK_SUPERVISOR_IDLE": "5"}
        cockpit, floor = [], []
        for round_ in range(args.rounds):
            floor.append(time_to([python, "-c", "import textual.app"], None, size, env))
            cockpit.append(time_to([console], READY, size, env))
            print(f"round {round_ + 1}: cockpit usable after {cockpit[-1]:.2f} s; "
                  f"python -c 'import textual.app' {floor[-1]:.2f} s", flush=True)
    print(f"median: cockpit {statistics.median(cockpit):.2f} s, import textual.app {statistics.median(floor):.2f} s "
          f"(ratio {statistics.median(cockpit) / statistics.median(floor):.1f}), {args.size}, "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
