"""A fault battery for the store: kill -9, a full disk, a read-only store, a lock held past the timeout.

    python benchmarks/faults.py [--cycles 10] [--dir PATH]

Cases (each is "clean" when the store stayed whole, nothing committed was lost, and the user got one
clean line instead of a traceback):

  kill -9    `tunedeck run` is started on one store again and again and killed (SIGKILL, its whole process
             group: the CLI and its trainer) once the store shows a few more committed epochs; the next
             open must show the trial `interrupted` with at least the epochs seen committed before the
             kill ("lost" counts the committed epochs missing), and `PRAGMA integrity_check` must say ok.
  disk full  SQLite's `PRAGMA max_page_count` caps the file at its size, so the next epoch's commit meets
             SQLITE_FULL for real, as on a full disk; the error must say the disk is full, the epochs
             committed before must all be there, and the trial must end `interrupted`.
  read-only  the store's file (then its folder) loses write permission (as root, the reader is a fork
             that dropped to uid 65534, since root ignores permissions): it must open read-only, list
             its trials, and refuse a write with StoreReadOnlyError; the file's bytes must not change.
  lock       another process holds `BEGIN EXCLUSIVE` for longer than $TUNEDECK_STORE_TIMEOUT (0.5 s):
             `tunedeck trials` must exit 75 with the message naming the store and the other process.

Figures and the command: docs/reliability.md.
"""
from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent / "tunedeck"

from engine.config.groups import Config  # noqa: E402
from engine.errors import StoreFault, StoreReadOnlyError  # noqa: E402
from engine.events import EpochEnded, StepLoss, TrialStarted  # noqa: E402
from engine.states import TrialState  # noqa: E402
from engine.store import Store  # noqa: E402

HOLD = ("import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\nprint('held', flush=True)\ntime.sleep(float(sys.argv[2]))\n")


def _epochs(path: Path) -> dict[int, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        return dict(conn.execute("SELECT id, epochs_run FROM trials").fetchall())


def kill_cycles(folder: Path, cycles: int) -> tuple[int, int, int, int]:
    """(cases, clean, committed epochs seen, committed epochs lost)."""
    path = folder / "kill.db"
    Store(path).close()
    clean = seen_total = lost_total = 0
    for cycle in range(cycles):
        known = set(_epochs(path))
        proc = subprocess.Popen([str(BIN), "run", "toy2d-mlp", "--set", "optim.max_epochs=100000", "--set", "early_stop.patience=0", "--set",
                                 f"run.seed={cycle}", "--quiet", "--store", str(path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        seen, trial, deadline = 0, None, time.monotonic() + 60
        want = 5 + 7 * cycle % 23
        while time.monotonic() < deadline and seen < want and proc.poll() is None:
            time.sleep(0.05)
            new = {k: v for k, v in _epochs(path).items() if k not in known}
            if new:
                trial, seen = max(new.items())
        os.killpg(proc.pid, signal.SIGKILL)  # the group this script started: the CLI and its trainer
        proc.wait(30)
        time.sleep(0.2)  # the trainer, killed with its group, is gone before the store is opened
        with Store(path) as store:
            record = store.trial(trial) if trial is not None else None
        with sqlite3.connect(path) as conn:
            whole = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = record.epochs_run if record is not None else 0
        lost = max(0, seen - stored)
        seen_total, lost_total = seen_total + seen, lost_total + lost
        ok = whole and lost == 0 and record is not None and record.state is TrialState.INTERRUPTED
        if not ok and os.environ.get("FAULTS_DEBUG"):
            print(cycle, whole, seen, stored, record and (record.state, record.reason), file=sys.stderr)
        clean += int(ok)
    return cycles, clean, seen_total, lost_total


def _started() -> TrialStarted:
    return TrialStarted(device="cpu", n_params=1, n_train=1, n_val=1, n_test=1, steps_per_epoch=1, problem="binary",
                        threads=1, info={})


def _epoch(n: int) -> EpochEnded:
    return EpochEnded(epoch=n, step=n, train_loss=1.0, val_loss=1.0, val_acc=0.5, lr=0.1, seconds=0.1, improved=True)


def _trial(path: Path, epochs: int) -> int:
    with Store(path) as store:
        trial = store.create_trial(Config.from_dict({"task": {"name": "toy2d"}}))
        store.start_trial(trial, _started(), {})
        for n in range(1, epochs + 1):
            store.record(trial, _epoch(n))
    return trial


def disk_full(folder: Path) -> tuple[int, int, int]:
    """(cases, clean, committed epochs lost)."""
    path = folder / "full.db"
    Store(path).close()
    store = Store(path)
    trial = store.create_trial(Config.from_dict({"task": {"name": "toy2d"}}))
    store.start_trial(trial, _started(), {})
    for n in range(1, 11):
        store.record(trial, _epoch(n))
    assert store._conn is not None
    store._conn.execute(f"PRAGMA max_page_count = {store._conn.execute('PRAGMA page_count').fetchone()[0]}")
    said = False
    for step in range(5000):
        store.record(trial, StepLoss(epoch=11, step=step, loss=0.5))
    try:
        store.record(trial, _epoch(11))
    except StoreFault as exc:
        said = "is full" in str(exc) and "nothing committed before was lost" in str(exc)
    store._conn.execute("PRAGMA max_page_count = 1073741823")  # room again
    store.mark_finished(trial, TrialState.CANCELLED, "stopped before the trial finished")
    store.close()
    with Store(path) as again:
        record = again.trial(trial)
    lost = max(0, 10 - record.epochs_run)
    return 1, int(said and lost == 0 and record.state is TrialState.INTERRUPTED), lost


def _as_reader(path: Path) -> bool:
    """Open read-only, list, refuse a write: in a fork that gave up root first when this runs as root."""
    def check() -> bool:
        with Store(path, allow_read_only=True) as store:
            listed = len(store.trials()) == 1 and bool(store.read_only)
            try:
                store.create_trial(Config.from_dict({"task": {"name": "toy2d"}}))
            except StoreReadOnlyError:
                return listed
        return False

    if os.geteuid() != 0:
        return check()
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            os.setgid(65534)
            os.setuid(65534)
            ok = check()
        finally:
            os._exit(0 if ok else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def read_only(folder: Path) -> tuple[int, int]:
    folder.chmod(0o755)  # reachable by uid 65534
    cases = clean = 0
    for locked in ("file", "folder"):
        where = folder / f"ro-{locked}"
        where.mkdir(mode=0o777)
        path = where / "s.db"
        _trial(path, 3)
        before = path.read_bytes()
        target = path if locked == "file" else where
        target.chmod(0o444 if locked == "file" else 0o555)
        try:
            ok = _as_reader(path)
        finally:
            target.chmod(0o755)
        cases, clean = cases + 1, clean + int(ok and path.read_bytes() == before)
    return cases, clean


def foreign_lock(folder: Path) -> tuple[int, int]:
    path = folder / "lock.db"
    _trial(path, 2)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = subprocess.run([str(BIN), "trials", "--store", str(path)], capture_output=True, text=True,
                                env={**os.environ, "TUNEDECK_STORE_TIMEOUT": "0.5"}, timeout=120)
    finally:
        holder.kill()
        holder.wait(10)
    ok = (result.returncode == 75 and "another process holds the store's lock" in result.stderr
          and "Traceback" not in result.stderr and result.stderr.count("\n") == 1)
    return 1, int(ok)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10, help="kill -9 cycles (default 10)")
    parser.add_argument("--dir", type=Path, help="folder for the stores (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tunedeck-faults-", dir=args.dir) as tmp:
        folder = Path(tmp)
        rows = []
        cases, clean, seen, lost = kill_cycles(folder, args.cycles)
        rows.append(("kill -9 `tunedeck run`", cases, clean, f"{lost} of {seen} committed epochs"))
        cases, clean, lost = disk_full(folder)
        rows.append(("disk full (max_page_count)", cases, clean, f"{lost} committed epochs"))
        cases, clean = read_only(folder)
        rows.append(("read-only file, folder", cases, clean, "-"))
        cases, clean = foreign_lock(folder)
        rows.append(("lock held past the timeout", cases, clean, "-"))
    print(f"{'case':30} {'tried':>5} {'clean':>5}  lost")
    for name, cases, clean, lost_text in rows:
        print(f"{name:30} {cases:5} {clean:5}  {lost_text}")
    tried, ok = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'all':30} {tried:5} {ok:5}")
    return 0 if tried == ok else 1


if __name__ == "__main__":
    sys.exit(main())
