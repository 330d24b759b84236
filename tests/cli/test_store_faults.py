"""Store faults through the CLI, in real processes: a read-only store is listed, shown and exported; a
command that must write, a lock held past the timeout and a full disk each end in one clean line with
their own exit status, never a traceback.

Root writes whatever the permissions say, so when the tests run as root the read-only commands run in a
forked process that gave up root (uid 65534, `nobody`) first; otherwise the console script runs as is.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.states import TrialState
from engine.store import Store
from tests.cli.clirunner import BIN
from tests.engine.store.test_faults import HOLD
from tests.engine.store.test_store import epoch_event, started_event

NOBODY = 65534
ROOT = os.geteuid() == 0


def populated(path: Path) -> int:
    with Store(path) as store:
        trial_id = store.create_trial(Config.from_dict({"task": {"name": "toy2d"}, "name": "kept"}))
        store.start_trial(trial_id, started_event(), {})
        store.record(trial_id, epoch_event(1))
    return trial_id


# Run by a fresh interpreter as root: the command once on a writable copy of the store (so that every module
# it imports is loaded while root may still read the interpreter's files), then as `nobody` for real.
AS_NOBODY = """
import io, json, os, sys
from contextlib import redirect_stderr, redirect_stdout
from tunedeck.cli.main import main
argv, warm = json.loads(sys.argv[1]), json.loads(sys.argv[2])
with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
    main(warm)
os.setgid(NOBODY)
os.setuid(NOBODY)
sys.exit(main(argv))
""".replace("NOBODY", str(NOBODY))


def as_reader(argv: list[str], out: Path, warm: Path) -> tuple[int, str, str]:
    """`tunedeck ARGV` as a user who may read but not write the store: as root, a fresh process that
    drops to `nobody` after a first run on a writable copy (`warm`); otherwise the console script itself."""
    import json

    command = [str(BIN), *argv] if not ROOT else [
        sys.executable, "-c", AS_NOBODY, json.dumps(argv), json.dumps(_warmed(argv, warm))]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=out,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    return result.returncode, result.stdout, result.stderr


def _warmed(argv: list[str], warm: Path) -> list[str]:
    args = list(argv)
    args[args.index("--store") + 1] = str(warm)
    if "-o" in args:
        args[args.index("-o") + 1] = str(warm.parent / "warm-export.csv")
    return args


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder `nobody` can reach (pytest's own are root's alone) and write its output and export in."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tunedeck-ro-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("locked", ["file", "folder"])
def test_a_read_only_store_is_listed_shown_and_exported(scratch: Path, locked: str) -> None:
    folder = scratch / "ro"
    folder.mkdir()
    path = folder / "trials.db"
    trial_id = populated(path)
    warm = scratch / "warm" / "trials.db"
    warm.parent.mkdir()
    shutil.copy(path, warm)
    before = path.read_bytes()
    target, mode = (path, 0o444) if locked == "file" else (folder, 0o555)
    if locked == "file":
        folder.chmod(0o755 if not ROOT else 0o777)  # the folder may be written: SQLite makes its -shm there
    target.chmod(mode)
    try:
        rc, out, err = as_reader(["trials", "--store", str(path)], scratch, warm)
        assert rc == 0, err
        assert "kept" in out
        assert err.count("opened read-only") == 1 and "Traceback" not in err
        rc, out, err = as_reader(["show", str(trial_id), "--store", str(path)], scratch, warm)
        assert rc == 0 and "kept" in out, err
        export = scratch / "out.csv"
        rc, out, err = as_reader(["export", "-o", str(export), "--store", str(path)], scratch, warm)
        assert rc == 0, err
        assert "kept" in export.read_text()
        rc, out, err = as_reader(["stop", str(trial_id), "--store", str(path)], scratch, warm)
        assert rc == 77, (out, err)
        assert "must write" in err and "Traceback" not in err + out
        assert err.splitlines()[-1].startswith("tunedeck: error: ")
    finally:
        target.chmod(0o755)
    assert path.read_bytes() == before  # nothing was written: no recovery, no -wal merged into it


def test_a_lock_held_past_the_timeout_exits_75(tmp_path: Path) -> None:
    path = tmp_path / "trials.db"
    populated(path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        env = {**os.environ, "TUNEDECK_STORE_TIMEOUT": "0.3"}
        result = subprocess.run([str(BIN), "trials", "--store", str(path)], capture_output=True, text=True,
                                env=env, timeout=120)
    finally:
        holder.kill()
        holder.wait(10)
    assert result.returncode == 75, result.stderr
    assert "another process holds the store's lock" in result.stderr and str(path) in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB filesystem (tmpfs), where this machine lets us mount one (root); else skipped."""
    where = tmp_path / "disk"
    where.mkdir()
    if not ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root; test_faults.py fills a store with max_page_count instead")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_said_so_and_loses_nothing(tiny_disk: Path) -> None:
    """Opening marks a dead process's trial interrupted: a write, which a full disk refuses."""
    path = tiny_disk / "trials.db"
    subprocess.run([sys.executable, "-c", f"from tests.cli.test_store_faults import populated; from pathlib import "
                    f"Path; populated(Path({str(path)!r}))"], check=True, timeout=120, cwd=Path(__file__).parents[2])
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * shutil.disk_usage(tiny_disk).free)
    result = subprocess.run([str(BIN), "trials", "--store", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 74, (result.stdout, result.stderr)
    assert "the disk holding" in result.stderr and "is full" in result.stderr, result.stderr
    assert "nothing committed before was lost" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr + result.stdout
    filler.unlink()
    with Store(path) as store:  # with room again: the trial is there with its epoch, interrupted (resumable)
        trials = store.trials()
    assert [(t.name, t.epochs_run, t.state) for t in trials] == [("kept", 1, TrialState.INTERRUPTED)]


def test_a_disk_that_fills_while_run_trains_ends_the_trial_interrupted_with_one_line(tiny_disk: Path) -> None:
    """`run` trains in a child process: the store's fault comes back to the CLI as its message and exit status."""
    path = tiny_disk / "t.db"
    run = subprocess.Popen([str(BIN), "run", "toy2d-mlp", "--store", str(path), "--set", "optim.max_epochs=100000",
                            "--set", "early_stop.patience=0", "--set", "task.n_samples=300"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert run.stdout is not None
        while "epoch" not in run.stdout.readline():  # the header, then the first epoch line
            assert run.poll() is None, run.stderr.read() if run.stderr else ""
        filler = tiny_disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # the disk fills up under the running trial
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        out_text, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
    assert run.returncode == 74, (out_text[-500:], err)
    assert "is full" in err and "Traceback" not in err + out_text, err
    filler.unlink()
    with Store(path) as store:  # with room again: interrupted (resumable), every committed epoch there
        record, epochs = store.trial(1), store.epochs(1)
    assert record.state is TrialState.INTERRUPTED, (record.state, record.reason)
    assert [e["epoch"] for e in epochs] == list(range(1, record.epochs_run + 1))
