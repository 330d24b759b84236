from __future__ import annotations

import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.errors import StoreError
from engine.events import EpochEnded, StepLoss, Summary, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.store import DEFAULT_NAME, ENV_VAR, Store, resolve_store_path
from engine.store.liveness import process_token
from engine.store.schema import SCHEMA_VERSION
from engine.training.environment import environment

REPO = Path(__file__).resolve().parents[3]


def started_event() -> TrialStarted:
    return TrialStarted(device="cpu", n_params=321, n_train=70, n_val=15, n_test=15, steps_per_epoch=2,
                        problem="binary", threads=1, info={"classes": ["a", "b"]})


def epoch_event(epoch: int, *, val_loss: float = 1.0, improved: bool = True,
                val_acc: float | None = 0.5) -> EpochEnded:
    return EpochEnded(epoch=epoch, step=epoch * 2, train_loss=1.0 / epoch, val_loss=val_loss, val_acc=val_acc,
                      lr=0.01, seconds=0.25, improved=improved)

CHILD_PRELUDE = """
import sys, time
from engine.config.groups import Config
from engine.events import EpochEnded, StepLoss, Summary, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.store import Store
started = TrialStarted(device="cpu", n_params=1, n_train=1, n_val=1, n_test=1, steps_per_epoch=1,
                       problem="binary", threads=1)
def epoch(e):
    return EpochEnded(epoch=e, step=e, train_loss=1.0, val_loss=1.0 / e, val_acc=0.5, lr=0.1, seconds=0.0,
                      improved=True)
"""

VICTIM = CHILD_PRELUDE + """
store = Store(sys.argv[1])
tid = store.create_trial(Config.from_dict({"name": "victim"}))
store.start_trial(tid, started, {})
for e in range(1, 4):
    store.record(tid, StepLoss(epoch=e, step=e, loss=0.5))
    store.record(tid, epoch(e))
store.record(tid, StepLoss(epoch=4, step=4, loss=0.5))
print(tid, flush=True)
time.sleep(120)
"""

WRITER = CHILD_PRELUDE + """
store = Store(sys.argv[1])
tid = store.create_trial(Config.from_dict({"name": sys.argv[2]}))
store.start_trial(tid, started, {})
print(tid, flush=True)
sys.stdin.readline()
for e in range(1, 201):
    store.record(tid, StepLoss(epoch=e, step=e, loss=0.5))
    store.record(tid, epoch(e))
store.record(tid, TrialFinished(state=TrialState.COMPLETED, reason="done", summary=Summary(epochs_run=200),
                                seconds=1.0))
store.close()
"""


@pytest.fixture
def spawn() -> Iterator:
    """Start `python -c SCRIPT args...` children that are always killed at the end of the test."""
    procs: list[subprocess.Popen] = []

    def start(script: str, *args: str) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO, env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                stream.close()


def _first_line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        raise AssertionError(f"child failed: {proc.stderr.read()}")
    return line.strip()


def test_round_trip_of_a_trial(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "t.db"
    config = Config.from_dict({"name": "base", "model": {"hidden": [256, 128]}, "optim": {"lr": 0.01}})
    env = environment("cpu")
    with Store(path) as store:
        assert store.created
        tid = store.create_trial(config, sweep_id=3)
        assert store.trial(tid).state is TrialState.QUEUED
        store.start_trial(tid, started_event(), env)
        assert store.trial(tid).state is TrialState.RUNNING
        store.record(tid, started_event())
        store.record(tid, StepLoss(epoch=1, step=1, loss=0.9))
        store.record(tid, StepLoss(epoch=1, step=2, loss=0.7))
        store.record(tid, epoch_event(1, val_loss=0.6, improved=True))
        store.record(tid, StepLoss(epoch=2, step=3, loss=0.65))
        store.record(tid, epoch_event(2, val_loss=0.8, improved=False, val_acc=None))
        mid = store.trial(tid)
        assert (mid.best_epoch, mid.best_val_loss, mid.val_acc_at_best, mid.epochs_run, mid.steps) == (1, 0.6, 0.5, 2, 4)
        summary = Summary(best_epoch=1, best_val_loss=0.6, val_acc_at_best=0.5, test_loss=0.61, test_acc=0.75,
                          epochs_run=2, steps=4)
        store.record(tid, TrialFinished(state=TrialState.EARLY_STOPPED, reason="patience 1 ran out",
                                        summary=summary, seconds=1.5))

    with Store(path) as store:
        assert not store.created
        assert store.count() == 1
        rec = store.trial(tid)
        assert [r.id for r in store.trials()] == [tid]
    assert rec.config == config.to_dict()
    assert Config.from_dict(rec.config) == config
    assert rec.env == env and env["pid"] == os.getpid() and env["device"] == "cpu"
    assert env["tunedeck"] and env["torch"] and env["python"] == platform.python_version()
    assert rec.state is TrialState.EARLY_STOPPED and rec.reason == "patience 1 ran out" and rec.error is None
    assert (rec.name, rec.task, rec.sweep_id, rec.device, rec.problem, rec.n_params) == (
        "base", "toy2d", 3, "cpu", "binary", 321)
    assert rec.run_info["steps_per_epoch"] == 2 and rec.run_info["info"] == {"classes": ["a", "b"]}
    assert (rec.best_epoch, rec.best_val_loss, rec.val_acc_at_best, rec.test_loss, rec.test_acc) == (
        1, 0.6, 0.5, 0.61, 0.75)
    assert (rec.epochs_run, rec.steps, rec.duration_s) == (2, 4, 1.5)
    assert rec.created_at <= rec.started_at <= rec.finished_at
    assert rec.pid == os.getpid() and rec.hostname == socket.gethostname() and rec.proc_start == process_token()
    with Store(path) as store:
        history = store.history()
        epochs = store.epochs(tid)
        assert store.history([tid]) == history and store.history([tid + 1]) == [] and store.history([]) == []
    assert [r for r in history if r[3] == "step_loss"] == [
        (tid, 1, 1, "step_loss", 0.9), (tid, 1, 2, "step_loss", 0.7), (tid, 2, 3, "step_loss", 0.65)]
    assert [r for r in history if r[2] == 4] == [
        (tid, 2, 4, "epoch_seconds", 0.25), (tid, 2, 4, "lr", 0.01), (tid, 2, 4, "train_loss", 0.5),
        (tid, 2, 4, "val_loss", 0.8)]
    assert epochs == [
        {"epoch": 1, "step": 2, "train_loss": 1.0, "val_loss": 0.6, "val_acc": 0.5, "lr": 0.01, "epoch_seconds": 0.25},
        {"epoch": 2, "step": 4, "train_loss": 0.5, "val_loss": 0.8, "val_acc": None, "lr": 0.01,
         "epoch_seconds": 0.25},
    ]


def test_name_defaults_to_task_and_failures_keep_their_error(store: Store, run_trial) -> None:
    tid = run_trial(store, {"task": {"name": "curve"}}, state=TrialState.FAILED, error="Traceback: boom")
    rec = store.trial(tid)
    assert (rec.name, rec.task, rec.state, rec.error) == ("curve", "curve", TrialState.FAILED, "Traceback: boom")


def test_mark_finished_ends_a_trial_without_its_event(store: Store, run_trial) -> None:
    tid = run_trial(store, epochs=1, state=None)
    store.record(tid, StepLoss(epoch=2, step=3, loss=0.4))
    store.mark_finished(tid, TrialState.CANCELLED, "worker process died", error="exit code -9")
    rec = store.trial(tid)
    assert (rec.state, rec.reason, rec.error) == (TrialState.CANCELLED, "worker process died", "exit code -9")
    assert rec.finished_at is not None and rec.duration_s is not None and rec.duration_s >= 0
    assert (tid, 2, 3, "step_loss", 0.4) in store.history([tid])


def test_step_losses_are_committed_with_their_epoch(store: Store, run_trial) -> None:
    tid = run_trial(store, epochs=0, state=None)
    store.record(tid, StepLoss(epoch=1, step=1, loss=0.5))
    with Store(store.path) as reader:
        assert reader.history([tid]) == []
    store.record(tid, epoch_event(1))
    with Store(store.path) as reader:
        assert (tid, 1, 1, "step_loss", 0.5) in reader.history([tid])


def test_unknown_trial_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match=rf"no trial with id 99 in .*{store.path.name}"):
        store.trial(99)
    with pytest.raises(StoreError, match="no trial with id 99"):
        store.record(99, epoch_event(1))
    with pytest.raises(StoreError, match="no trial with id 99"):
        store.mark_finished(99, TrialState.CANCELLED, "x")


def test_resolve_store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_store_path(None) == tmp_path / DEFAULT_NAME
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.db"))
    assert resolve_store_path(None) == tmp_path / "env.db"
    assert resolve_store_path("given.db") == Path("given.db")


def test_wal_mode_and_schema_version(store: Store) -> None:
    raw = sqlite3.connect(store.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(raw.execute("SELECT key, value FROM meta").fetchall())
    finally:
        raw.close()
    assert meta["schema_version"] == str(SCHEMA_VERSION)


# The trials table as tunedeck wrote it with schemas 1 and 2 (before owner, heartbeat and rev).
_OLD_TRIALS = (
    "CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, state TEXT NOT NULL, "
    "reason TEXT, error TEXT, task TEXT NOT NULL, config_json TEXT NOT NULL, sweep_id INTEGER, created_at REAL NOT NULL, "
    "started_at REAL, finished_at REAL, duration_s REAL, pid INTEGER, proc_start TEXT NOT NULL DEFAULT '', "
    "hostname TEXT NOT NULL DEFAULT '', env_json TEXT NOT NULL DEFAULT '{}', run_info_json TEXT NOT NULL DEFAULT '{}', "
    "problem TEXT, n_params INTEGER, device TEXT, best_epoch INTEGER, best_val_loss REAL, best_val_acc REAL, "
    "test_loss REAL, test_acc REAL, epochs_run INTEGER NOT NULL DEFAULT 0, steps INTEGER NOT NULL DEFAULT 0)")
_OLD_SWEEPS = (
    "CREATE TABLE sweeps (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, state TEXT NOT NULL, "
    "reason TEXT, spec_json TEXT NOT NULL, base_json TEXT NOT NULL, planned INTEGER NOT NULL, created_at REAL NOT NULL, "
    "finished_at REAL, pid INTEGER, proc_start TEXT NOT NULL DEFAULT '', hostname TEXT NOT NULL DEFAULT '')")


def _old_store(path: Path, version: int) -> None:
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        raw.executemany("INSERT INTO meta VALUES (?, ?)", [("app", "tunedeck"), ("schema_version", str(version))])
        raw.execute(_OLD_TRIALS)
        raw.execute("CREATE TABLE metrics (trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE, "
                    "epoch INTEGER NOT NULL, step INTEGER NOT NULL, metric TEXT NOT NULL, value REAL)")
        if version >= 2:
            raw.execute(_OLD_SWEEPS)
        for i in (1, 2):
            raw.execute("INSERT INTO trials (name, state, task, config_json, created_at) VALUES (?, 'completed', "
                        "'toy2d', ?, 1.0)", (f"old-{i}", '{"optim": {"lr": 0.02}}'))
            raw.execute("INSERT INTO metrics VALUES (?, 1, 10, 'val_loss', 0.5)", (i,))
    raw.close()


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_store_is_upgraded_and_keeps_every_row(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.db"
    _old_store(path, version)
    with Store(path) as reopened:
        assert [t.name for t in reopened.trials()] == ["old-1", "old-2"]
        assert reopened.trial(1).config == {"optim": {"lr": 0.02}} and reopened.sweeps() == []
        assert len(reopened.history()) == 2
        changed, rev = reopened.trials_changed(0)
        assert [t.id for t in changed] == [1, 2] and rev == 2  # old rows count as changed once
        new = reopened.create_trial(Config.from_dict({}))
        assert [t.id for t in reopened.trials_changed(rev)[0]] == [new]
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    raw.close()


def test_newer_schema_is_refused(store: Store) -> None:
    store.close()
    raw = sqlite3.connect(store.path)
    with raw:
        raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    raw.close()
    with pytest.raises(StoreError, match=rf"trials\.db: store schema version {SCHEMA_VERSION + 1} is newer"):
        Store(store.path)


@pytest.mark.parametrize("content", [b"id,name\n1,a\n" * 20, b"SQLite format 3\x00" + b"\xff" * 200])
def test_garbage_file_is_refused_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=r"notes\.db: not a tunedeck store"):
        Store(path)
    assert path.read_bytes() == content


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("CREATE TABLE things (x)")
    raw.close()
    with pytest.raises(StoreError, match=r"other\.db: not a tunedeck store"):
        Store(path)


def test_killed_writer_leaves_committed_epochs_and_an_interrupted_trial(tmp_path: Path, spawn) -> None:
    path = tmp_path / "t.db"
    proc = spawn(VICTIM, str(path))
    tid = int(_first_line(proc))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    with Store(path) as store:
        rec = store.trial(tid)
        epochs = store.epochs(tid)
        steps = [r for r in store.history([tid]) if r[3] == "step_loss"]
    assert rec.state is TrialState.INTERRUPTED
    assert rec.reason == (f"process {proc.pid} on {socket.gethostname()} ended while the trial ran "
                          "(last committed epoch 3)")
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and rec.epochs_run == 3 and rec.best_epoch == 3
    assert [r[2] for r in steps] == [1, 2, 3]


def test_live_writer_is_not_interrupted(tmp_path: Path, spawn) -> None:
    path = tmp_path / "t.db"
    proc = spawn(VICTIM, str(path))
    tid = int(_first_line(proc))
    with Store(path) as store:
        assert store.trial(tid).state is TrialState.RUNNING
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    with Store(path) as store:
        assert store.trial(tid).state is TrialState.INTERRUPTED


def test_reused_pid_dead_creator_and_other_hosts(store: Store, run_trial) -> None:
    reused = run_trial(store, state=None)
    queued = run_trial(store, start=False)
    remote = run_trial(store, state=None)
    mine = run_trial(store, state=None)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    store.close()
    raw = sqlite3.connect(store.path)
    with raw:
        raw.execute("UPDATE trials SET proc_start = 'not-a-start-time' WHERE id = ?", (reused,))
        raw.execute("UPDATE trials SET pid = ? WHERE id IN (?, ?)", (dead_pid, queued, remote))
        raw.execute("UPDATE trials SET hostname = 'elsewhere' WHERE id = ?", (remote,))
    raw.close()
    with Store(store.path) as again:
        states = {tid: again.trial(tid) for tid in (reused, queued, remote, mine)}
    assert states[reused].state is TrialState.INTERRUPTED
    assert states[queued].state is TrialState.INTERRUPTED
    assert states[queued].reason == f"process {dead_pid} on {socket.gethostname()} ended before the trial started"
    assert states[remote].state is TrialState.RUNNING
    assert states[mine].state is TrialState.RUNNING


def test_two_writer_processes_lose_nothing(tmp_path: Path, spawn) -> None:
    path = tmp_path / "t.db"
    Store(path).close()
    procs = [spawn(WRITER, str(path), name) for name in ("left", "right")]
    tids = [int(_first_line(p)) for p in procs]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        assert p.wait(timeout=60) == 0, p.stderr.read()
    with Store(path) as store:
        for tid in tids:
            rec = store.trial(tid)
            assert rec.state is TrialState.COMPLETED and rec.epochs_run == 200
            rows = store.history([tid])
            assert len(rows) == 200 * 6
            assert [e["epoch"] for e in store.epochs(tid)] == list(range(1, 201))


def test_threads_share_one_store(store: Store, run_trial) -> None:
    tids = [run_trial(store, epochs=0, state=None) for _ in range(3)]

    def write(tid: int) -> None:
        for e in range(1, 51):
            store.record(tid, StepLoss(epoch=e, step=e, loss=0.1))
            store.record(tid, EpochEnded(epoch=e, step=e, train_loss=1.0, val_loss=1.0, val_acc=None, lr=0.1,
                                         seconds=0.0, improved=False))

    threads = [threading.Thread(target=write, args=(tid,)) for tid in tids]
    for t in threads:
        t.start()
    reads = [len(store.trials()) for _ in range(20)]
    for t in threads:
        t.join()
    assert reads == [3] * 20
    for tid in tids:
        assert len(store.history([tid])) == 50 * 5


def test_closed_store_is_a_store_error(store: Store) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count()
