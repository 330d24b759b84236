"""Checkpoints, with real training of tiny seeded toy2d trials: a trial cancelled part-way and queued
again goes on from its `last` checkpoint and ends exactly where an uninterrupted run ends; damaged,
foreign or newer files are refused by name and passed over; a full disk skips writes without
ending the trial; `run.checkpoint` writes only what it names.

Reference runs train into a store of their own (one per config, shared by the module)."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.config.groups import Config
from engine.execution import checkpoints as files_module
from engine.execution.checkpoints import CheckpointFiles, CheckpointUnusable, load_checkpoint, resume_point
from engine.states import TrialState
from engine.store import Store
from engine.training.checkpoint import BEST, FORMAT_VERSION, LAST, CheckpointError, restore
from engine.training.loop import Progress, prepare
from tests.engine.execution.checkpoint_helpers import (
    EPOCHS,
    Ran,
    assert_close,
    curve,
    files,
    kinds,
    run,
    step_losses,
    summary,
    toy,
)

REPO = Path(__file__).parents[3]
Reference = Callable[[Config], tuple[list, list, tuple]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    """The uninterrupted run of a config: (its curve, its step losses, its summary), trained once."""
    store = Store(tmp_path_factory.mktemp("reference") / "a.db")
    done: dict[str, tuple[list, list, tuple]] = {}

    def get(config: Config) -> tuple[list, list, tuple]:
        key = json.dumps(config.to_dict(), sort_keys=True)
        if key not in done:
            ran = run(store, config)
            assert ran.finished is not None and ran.finished.state is TrialState.COMPLETED
            done[key] = (curve(store, ran.trial_id), step_losses(store, ran.trial_id), summary(store, ran.trial_id))
        return done[key]

    yield get
    store.close()


def assert_same_as_uninterrupted(store: Store, trial_id: int, reference: Reference, config: Config) -> None:
    want_curve, want_steps, want_summary = reference(config)
    assert [row[0] for row in curve(store, trial_id)] == list(range(1, EPOCHS + 1))
    assert_close(curve(store, trial_id), want_curve, "epochs")
    assert_close(step_losses(store, trial_id), want_steps, "step losses")
    assert_close(summary(store, trial_id), want_summary, "summary")  # test_loss and test_acc among them


def stopped(store: Store, config: Config, **stop: int) -> Ran:
    """A trial cancelled part-way (as `run` is told), then queued again to resume."""
    ran = run(store, config, **stop)
    assert ran.finished is not None and ran.finished.state is TrialState.CANCELLED
    assert store.requeue(ran.trial_id)
    assert store.trial(ran.trial_id).state is TrialState.QUEUED
    return ran


# --- 1. an exact resume, in this process --------------------------------------------------------

@pytest.mark.parametrize(("updates", "stop", "lasts", "resumes_from"), [
    pytest.param({}, {"stop_at_epoch": 3}, [3, 2], 3, id="cosine-every-epoch"),
    pytest.param({"optim.scheduler": "step", "optim.step_size": 2, "optim.gamma": 0.5}, {"stop_at_step": 31},
                 [3, 2], 3, id="step-scheduler-cancelled-mid-epoch-4"),
    pytest.param({"optim.scheduler": "plateau", "optim.plateau_patience": 0, "optim.factor": 0.5},
                 {"stop_at_epoch": 4}, [4, 3], 4, id="plateau"),
])
def test_a_cancelled_trial_queued_again_goes_on_from_its_checkpoint_exactly(
        store: Store, reference: Reference, updates: dict, stop: dict, lasts: list[int], resumes_from: int) -> None:
    config = toy(**updates)
    first = stopped(store, config, **stop)
    assert kinds(store, first.trial_id)[LAST] == lasts
    assert store.trial(first.trial_id).epochs_run == (3 if "stop_at_step" in stop else stop["stop_at_epoch"])

    again = run(store, config, trial_id=first.trial_id)
    assert again.finished is not None and again.finished.state is TrialState.COMPLETED
    assert again.resumed_from == resumes_from
    assert [e.epoch for e in again.epochs] == list(range(resumes_from + 1, EPOCHS + 1))
    assert_same_as_uninterrupted(store, first.trial_id, reference, config)
    record = store.trial(first.trial_id)
    assert [r["epoch"] for r in record.run_info["resumed"]] == [resumes_from]
    assert record.state is TrialState.COMPLETED and record.note is None
    assert kinds(store, first.trial_id) == {BEST: [record.best_epoch]}  # the `last` files went with the end
    assert len(store.trials()) == 1


def test_a_trial_resumed_twice_lists_both_points_and_still_matches(store: Store, reference: Reference) -> None:
    config = toy()
    first = stopped(store, config, stop_at_epoch=2)
    stopped(store, config, trial_id=first.trial_id, stop_at_epoch=4)
    again = run(store, config, trial_id=first.trial_id)
    assert again.resumed_from == 4
    assert [r["epoch"] for r in store.trial(first.trial_id).run_info["resumed"]] == [2, 4]
    assert_same_as_uninterrupted(store, first.trial_id, reference, config)


# --- 2. damaged, altered, newer and foreign checkpoints -----------------------------------------

def damage(path: Path, how: str) -> None:
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "missing":
        path.unlink()
    else:  # one byte altered, the size unchanged
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize(("how", "says"), [("truncated", "truncated"), ("altered", "checksum mismatch"),
                                           ("missing", "missing")])
def test_a_damaged_newest_last_is_passed_over_for_the_one_before(
        store: Store, reference: Reference, how: str, says: str) -> None:
    config = toy()
    first = stopped(store, config, stop_at_epoch=3)
    newest, older = store.checkpoints(first.trial_id, LAST)
    assert (newest.epoch, older.epoch, newest.path.name) == (3, 2, "last-3.pt")
    damage(newest.path, how)
    if how != "missing":
        with pytest.raises(CheckpointUnusable, match=f"{newest.path}: .*{says}"):
            load_checkpoint(newest)
    payload, point, passed = resume_point(store, first.trial_id)
    assert point == older and payload["epoch"] == 2
    assert len(passed) == 1 and str(newest.path) in passed[0] and says in passed[0]

    again = run(store, config, trial_id=first.trial_id)
    assert again.resumed_from == 2 and [e.epoch for e in again.epochs] == [3, 4, 5, 6]
    note = store.trial(first.trial_id).note
    assert note is not None and note.startswith("resumed from an older checkpoint") and "last-3.pt" in note
    assert_same_as_uninterrupted(store, first.trial_id, reference, config)


def record_file(store: Store, trial_id: int, path: Path, epoch: int, kind: str = LAST) -> Any:
    """Record a file as a trial's checkpoint with its true size and checksum (so only its content is wrong)."""
    data = path.read_bytes()
    store.record_checkpoint(trial_id, kind, path, epoch, len(data), hashlib.sha256(data).hexdigest())
    return store.checkpoints(trial_id, kind)[0]


def test_a_checkpoint_of_a_newer_format_is_refused_as_newer(store: Store) -> None:
    config = toy()
    first = stopped(store, config, stop_at_epoch=3)
    payload = load_checkpoint(store.checkpoints(first.trial_id, LAST)[0])
    CheckpointFiles(store, first.trial_id).write(LAST, {**payload, "format": FORMAT_VERSION + 1, "epoch": 4}, 4)
    newer = store.checkpoints(first.trial_id, LAST)[0]
    assert newer.epoch == 4
    with pytest.raises(CheckpointUnusable, match=f"{newer.path}: checkpoint format {FORMAT_VERSION + 1} is newer"):
        load_checkpoint(newer)
    _, point, passed = resume_point(store, first.trial_id)
    assert point.epoch == 3 and "newer" in passed[0] and "upgrade tunedeck" in passed[0]
    # the loop's own guard says the same, for a payload that reaches it some other way
    setup = prepare(config)
    with pytest.raises(CheckpointError, match="newer than this tunedeck reads"):
        restore(setup, Progress(), torch.Generator(), None, {**payload, "format": FORMAT_VERSION + 1})


class _RunsCode:
    """Pickles as a call that would create a file if the loader ran code from the checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize(("content", "says"), [
    ("text", "not a readable checkpoint"),
    ("code", "not a readable checkpoint"),
    ("tensor", "not a tunedeck checkpoint"),
    ("state_dict", "not a tunedeck checkpoint"),
    ("best", "not a tunedeck last checkpoint"),
])
def test_a_file_that_is_not_a_checkpoint_is_refused_cleanly(
        store: Store, tmp_path: Path, reference: Reference, content: str, says: str) -> None:
    """Text, a pickle that would run code (weights_only refuses it, and nothing runs), a bare tensor,
    a model's state_dict, and a `best` checkpoint recorded as a `last`: each is refused by name, the
    trial goes on from the checkpoint before it, and the result is still the uninterrupted one."""
    config = toy()
    first = stopped(store, config, stop_at_epoch=3)
    path = store.artifacts / str(first.trial_id) / "last-4.pt"
    marker = tmp_path / "code-ran"
    if content == "text":
        path.write_text("epoch,loss\n4,0.1\n")
    elif content == "code":
        torch.save({"format": FORMAT_VERSION, "kind": LAST, "epoch": 4, "step": 36, "model": _RunsCode(marker)}, path)
    elif content == "tensor":
        torch.save(torch.zeros(3), path)
    elif content == "state_dict":
        torch.save(prepare(config).model.state_dict(), path)
    else:
        torch.save({"format": FORMAT_VERSION, "kind": BEST, "epoch": 4, "model": {}}, path)
    foreign = record_file(store, first.trial_id, path, 4)
    with pytest.raises(CheckpointUnusable, match=f"{path}: {says}"):
        load_checkpoint(foreign)
    assert not marker.exists()

    again = run(store, config, trial_id=first.trial_id)
    assert again.finished is not None and again.finished.state is TrialState.COMPLETED
    assert again.resumed_from == 3
    assert "last-4.pt" in (store.trial(first.trial_id).note or "")
    assert_same_as_uninterrupted(store, first.trial_id, reference, config)
    assert not marker.exists()


@pytest.mark.parametrize("how", ["truncated", "missing"])
def test_with_no_usable_checkpoint_the_trial_starts_over_and_says_why(
        store: Store, reference: Reference, how: str) -> None:
    config = toy()
    first = stopped(store, config, stop_at_epoch=3)
    for last in store.checkpoints(first.trial_id, LAST):
        damage(last.path, how)
    with pytest.raises(CheckpointUnusable, match=f"trial {first.trial_id} has no usable checkpoint .*last-3.pt.*"
                                                 "last-2.pt.*it must start over"):
        resume_point(store, first.trial_id)

    again = run(store, config, trial_id=first.trial_id)
    assert again.resumed_from is None and [e.epoch for e in again.epochs] == list(range(1, EPOCHS + 1))
    record = store.trial(first.trial_id)
    assert record.note is not None and record.note.startswith("started over: ") and "last-2.pt" in record.note
    assert "resumed" not in record.run_info
    assert_same_as_uninterrupted(store, first.trial_id, reference, config)  # from epoch 1, as if never run


# --- 3. a full disk ------------------------------------------------------------------------------

def test_a_write_without_room_is_skipped_and_noted(store: Store) -> None:
    trial_id = store.create_trial(toy())
    warned: list[str] = []
    writer = CheckpointFiles(store, trial_id, space=lambda path: 0, warn=warned.append)
    writer.write(LAST, {"model": {"w": torch.zeros(1000)}}, 1)
    assert (writer.written, writer.skipped) == (0, 1) and store.checkpoints(trial_id) == []
    assert files(store.artifacts) == set()
    assert warned == [store.trial(trial_id).note]
    assert "last checkpoint of epoch 1 skipped: 0 MiB free" in warned[0] and "the trial goes on" in warned[0]


def test_a_trial_on_a_full_disk_completes_every_epoch_and_its_note_says_why(
        store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The free-space probe reports nothing free (a real full disk needs a mount; see the tmpfs test)."""
    monkeypatch.setattr(files_module, "free_space", lambda path: 0)
    ran = run(store, toy())
    assert ran.finished is not None and ran.finished.state is TrialState.COMPLETED
    record = store.trial(ran.trial_id)
    assert record.epochs_run == EPOCHS and store.checkpoints(ran.trial_id) == []
    assert files(store.artifacts) == set()
    assert record.note is not None and "checkpoint of epoch" in record.note and "0 MiB free" in record.note
    assert f"tunedeck: trial {ran.trial_id}: last checkpoint of epoch 1 skipped" in capsys.readouterr().err


class _FullAfter:
    """A file whose disk fills after `room` bytes, as a real one does (ENOSPC from write)."""

    def __init__(self, fh: Any, room: int) -> None:
        self._fh, self._room = fh, room

    def write(self, data: bytes) -> int:
        self._room -= len(data)
        if self._room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()

    def fileno(self) -> int:
        return self._fh.fileno()

    def __enter__(self) -> _FullAfter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


def test_a_disk_that_fills_during_a_write_leaves_no_partial_file_and_the_trial_goes_on(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.save turns its file's OSError into a RuntimeError; the writer must still see ENOSPC."""
    monkeypatch.setattr(files_module, "open", lambda path, mode: _FullAfter(open(path, mode), 2000), raising=False)
    ran = run(store, toy())
    assert ran.finished is not None and ran.finished.state is TrialState.COMPLETED, ran.finished
    record = store.trial(ran.trial_id)
    assert record.epochs_run == EPOCHS and store.checkpoints(ran.trial_id) == []
    assert files(store.artifacts) == set()  # no temporary file left behind
    assert record.note is not None and "not written: No space left on device" in record.note


_ON_TMPFS = """
import json, os, sys
from pathlib import Path
from engine.config.groups import Config
from engine.execution import checkpoints
from engine.execution.runner import TrialRun
from engine.store import Store

config = Config.from_dict({"task": {"name": "toy2d", "n_samples": 200}, "model": {"hidden": [600, 600]},
                           "optim": {"max_epochs": 2}, "run": {"device": "cpu", "checkpoint_every": 0.0}})
out = {}
with Store(Path(sys.argv[1])) as store:
    for case in ("probe", "write"):
        if case == "write":  # a probe that sees room: the write itself meets the full disk
            checkpoints.free_space = lambda path: 1 << 40
        run = TrialRun(store, config)
        list(run)
        record = store.trial(run.trial_id)
        out[case] = {"state": record.state.value, "epochs": record.epochs_run, "note": record.note,
                     "records": len(store.checkpoints(run.trial_id)),
                     "files": sorted(str(p) for p in store.artifacts.rglob("*") if p.is_file())}
print(json.dumps(out))
"""


def _mount_tmpfs(folder: Path) -> list[str] | None:
    """The command prefix that runs a command with a 1 MiB tmpfs on `folder`, or None where mounting
    one without privileges (a user and mount namespace) is not allowed."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    prefix = [unshare, "-rm", "sh", "-c", f'mount -t tmpfs -o size=1m tmpfs "{folder}" && exec "$@"', "sh"]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if probe.returncode == 0 else None


def test_a_real_full_tmpfs_skips_the_writes_and_the_trials_complete(store: Store) -> None:
    """A real 1 MiB tmpfs mounted on the store's artifacts folder, in a private user and mount
    namespace (`unshare -rm`), so no root is needed where the kernel allows user namespaces; skipped
    where it does not (the probe tests above cover the logic everywhere). Two trials of a 362k-parameter
    MLP (its checkpoints are 1.5-6 MB): one with the real free-space probe, which sees 1 MiB and skips;
    one with a probe that lies, so that the write itself fails with ENOSPC mid-file."""
    prefix = _mount_tmpfs(store.artifacts)
    if prefix is None:
        pytest.skip("cannot mount a tmpfs here without privileges (no unshare, or user namespaces are off)")
    script = store.path.parent / "on_tmpfs.py"
    script.write_text(_ON_TMPFS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([*prefix, sys.executable, str(script), str(store.path)], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for case, says in (("probe", "skipped: 1 MiB free"), ("write", "not written: No space left on device")):
        got = out[case]
        assert (got["state"], got["epochs"], got["records"], got["files"]) == ("completed", 2, 0, []), got
        assert says in got["note"], got
    assert "No space left on device" in done.stderr


# --- 6. run.checkpoint writes what it names ---------------------------------------------------------

@pytest.mark.parametrize(("mode", "while_resumable", "at_the_end"), [
    ("none", set(), set()),
    ("best", {BEST}, {BEST}),
    ("last", {LAST}, set()),
    ("both", {BEST, LAST}, {BEST}),
])
def test_run_checkpoint_writes_only_what_it_names(store: Store, mode: str, while_resumable: set[str],
                                                  at_the_end: set[str]) -> None:
    """A cancelled trial (it can resume) keeps what the mode names; a completed one its best only."""
    config = toy(**{"run.checkpoint": mode})
    cancelled = run(store, config, stop_at_epoch=2)
    completed = run(store, config)
    want: dict[int, dict[str, list[int]]] = {cancelled.trial_id: {}, completed.trial_id: {}}
    for trial_id, kept in ((cancelled.trial_id, while_resumable), (completed.trial_id, at_the_end)):
        if BEST in kept:
            want[trial_id][BEST] = [store.trial(trial_id).best_epoch or 0]
    if LAST in while_resumable:
        want[cancelled.trial_id][LAST] = [2, 1]
    assert {t: kinds(store, t) for t in want} == want
    names = {p.relative_to(store.artifacts).as_posix() for p in files(store.artifacts)}
    assert names == {f"{t}/{'best.pt' if kind == BEST else f'last-{e}.pt'}"
                     for t, by_kind in want.items() for kind, epochs in by_kind.items() for e in epochs}
    if mode == "none":
        assert not store.artifacts.exists()
