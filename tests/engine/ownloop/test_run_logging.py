"""`Run` in this process, on a real store: values it takes and refuses, batching, threads, checkpoints."""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import torch

from engine.errors import ConfigError
from engine.ownloop.logbook import LogError
from engine.ownloop.protocol import TRIAL_VAR
from engine.ownloop.run import Run, init
from engine.states import TrialState
from engine.store import ENV_VAR, Store, TrialRecord


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Trials run by hand here go to a store of the test's own."""
    path = tmp_path / "runs.db"
    monkeypatch.setenv(ENV_VAR, str(path))
    monkeypatch.delenv(TRIAL_VAR, raising=False)
    return path


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def stored(db: Path, trial_id: int) -> TrialRecord:
    with Store(db) as store:
        return store.trial(trial_id)


def test_a_loss_that_becomes_nan_ends_the_trial_diverged_as_the_loop_does(db: Path) -> None:
    with init(config={"hidden": 4}) as run:
        run.log(step=1, loss=0.9)
        run.log(epoch=1, train_loss=0.9, val_loss=0.8)
        run.log(step=2, loss=0.7)
        run.log(step=3, loss=float("nan"))
        assert run.should_stop() and run.stop_state == TrialState.DIVERGED
        run.log(step=4, loss=0.5)  # a script that goes on anyway is still recorded
    record = stored(db, run.trial_id)
    assert (record.state, record.reason) == (TrialState.DIVERGED, "step loss became nan at epoch 2, step 3")
    with Store(db) as store:
        steps = [(step, value) for _, _, step, _, value in store.history([run.trial_id], metric="step_loss")]
    assert steps == [(1, 0.9), (2, 0.7), (4, 0.5)]  # the NaN is not stored


def test_an_infinite_val_loss_diverges_and_its_epoch_is_not_kept(db: Path) -> None:
    with init() as run:
        run.log(epoch=1, val_loss=0.5, val_acc=0.6)
        run.log(epoch=2, val_loss=float("inf"), val_acc=0.7)
    record = stored(db, run.trial_id)
    assert (record.state, record.reason) == (TrialState.DIVERGED, "val_loss became inf at epoch 2, step 0")
    assert (record.epochs_run, record.best_epoch, record.val_acc_at_best) == (1, 1, 0.6)
    assert record.max_val_acc == 0.6  # the diverged epoch's 0.7 was not kept


def test_a_script_trial_keeps_the_best_val_acc_of_any_epoch_beside_the_one_at_its_best(db: Path) -> None:
    with init() as run:
        for epoch, (loss, acc) in enumerate(((0.9, 0.55), (0.5, 0.6), (0.7, 0.8), (0.6, 0.7)), 1):
            run.log(epoch=epoch, val_loss=loss, val_acc=acc)
    record = stored(db, run.trial_id)
    assert (record.best_epoch, record.val_acc_at_best, record.max_val_acc) == (2, 0.6, 0.8)


@pytest.mark.parametrize(("call", "message"), [
    ({"epoch": 1, "val_acc": float("nan")}, "run.log: val_acc: must be a finite number, got nan"),
    ({"epoch": 1, "f1": "0.5"}, "run.log: f1: must be a finite number, got '0.5'"),
    ({"epoch": 1, "f1": [0.5, 0.6]}, "run.log: f1: must be a finite number, got [0.5, 0.6]"),
    ({"epoch": 1.5, "f1": 0.5}, "run.log: epoch: must be a whole number, got 1.5"),
    ({"step": -1, "loss": 0.5}, "run.log: step: must be >= 0, got -1"),
    ({"step": 3, "val_loss": 0.5}, "run.log: val_loss: is a per-epoch metric; log it with run.log(epoch=N, "
                                   "val_loss=x)"),
])
def test_a_value_that_cannot_be_stored_is_refused_naming_it(db: Path, call: dict, message: str) -> None:
    with init() as run:
        with pytest.raises(LogError) as caught:
            run.log(**call)
        run.log(epoch=1, val_loss=0.5)  # the run goes on
    assert str(caught.value) == message
    assert stored(db, run.trial_id).state == TrialState.COMPLETED


def test_epochs_must_not_go_back(db: Path) -> None:
    with init() as run:
        run.log(epoch=2, val_loss=0.5)
        run.log(epoch=2, val_acc=0.9)  # the same epoch, in a second call
        with pytest.raises(LogError, match=r"run.log: epoch: must not go back \(epoch 2 was logged\), got 1"):
            run.log(epoch=1, val_loss=0.1)
    record = stored(db, run.trial_id)
    assert (record.best_epoch, record.best_val_loss, record.val_acc_at_best) == (2, 0.5, 0.9)


def test_torch_scalars_are_taken_as_numbers(db: Path) -> None:
    with init() as run:
        run.log(step=1, loss=torch.tensor(0.25))
        run.log(epoch=1, val_loss=torch.tensor([0.5]), val_acc=torch.tensor(0.75, dtype=torch.float64))
    record = stored(db, run.trial_id)
    assert (record.steps, record.best_val_loss, record.val_acc_at_best) == (1, 0.5, 0.75)


@pytest.mark.parametrize(("defaults", "message"), [
    ({"optim.lr": -0.1}, "optim.lr: must be > 0, got -0.1"),
    ({"optim.lrr": 0.1}, "optim.lrr: unknown key (did you mean 'optim.lr'?)"),
    ({"task.name": "toy2d"}, "task.name: is 'script' for a trial of tunedeck.init, got 'toy2d'"),
    ({"layers": [0.5, 0.25]}, "layers: a script's own knob must default to an int, float, bool, str or a list "
                              "of ints, got [0.5, 0.25]"),
])
def test_a_bad_default_is_a_one_line_config_error_naming_the_script(db: Path, defaults: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        init(config=defaults)
    text = str(caught.value)
    assert "\n" not in text and text.endswith(": " + message)
    assert not db.exists() or Store(db).count() == 0  # nothing was recorded


def test_step_logs_from_four_threads_are_all_stored(db: Path) -> None:
    per_thread = 2000
    with init() as run:
        def worker(index: int) -> None:
            for i in range(per_thread):
                run.log(step=index * per_thread + i + 1, loss=1.0 / (i + 1))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with Store(db) as store:
        rows = store.history([run.trial_id], metric="step_loss")
        assert sorted(step for _, _, step, _, _ in rows) == list(range(1, 4 * per_thread + 1))
        assert store.trial(run.trial_id).steps == 4 * per_thread


class _CountingWrites:
    """Counts the write transactions (the real ones, committed) of each Store of this process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: dict[int, int] = {}
        original = Store._write

        def counted(store: Store) -> AbstractContextManager:
            self.counts[id(store)] = self.counts.get(id(store), 0) + 1
            return original(store)

        monkeypatch.setattr(Store, "_write", counted)

    def of(self, store: Store) -> int:
        return self.counts.get(id(store), 0)


def test_logging_every_step_commits_about_once_a_second(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes = _CountingWrites(monkeypatch)
    with init() as run:
        before, started, step = writes.of(run.store), time.monotonic(), 0
        for epoch in range(1, 4):
            for _ in range(800):
                step += 1
                run.log(step=step, loss=1.0 / step)
                time.sleep(0.0005)
            run.log(epoch=epoch, val_loss=1.0 / epoch)
        wait_for(lambda: stored(db, run.trial_id).steps == step, "the flusher to store the steps")
        during, elapsed = writes.of(run.store) - before, time.monotonic() - started
    assert 1 <= during <= elapsed + 2  # one commit a second at most, however many values came in
    with Store(db) as store:
        in_order, _ = store.metrics_since(0)  # rowid order: as they were logged, batch after batch
        assert [s for _, _, s, metric, _ in in_order if metric == "step_loss"] == list(range(1, 2401))
        assert [(e, s) for _, e, s, metric, _ in in_order if metric == "val_loss"] == [(1, 800), (2, 1600), (3, 2400)]


def test_a_stop_request_reaches_should_stop_through_the_flusher(db: Path) -> None:
    with init() as run:
        run.log(epoch=1, val_loss=0.5)
        assert not run.should_stop()
        with Store(db) as other:
            other.request_stop(run.trial_id, "cancelled", "stopped from the cockpit")
        wait_for(run.should_stop, "should_stop()")
        assert (run.stop_state, run.stop_reason) == (TrialState.CANCELLED, "stopped from the cockpit")
    record = stored(db, run.trial_id)
    assert (record.state, record.reason, record.epochs_run) == (TrialState.CANCELLED, "stopped from the cockpit", 1)


def test_finish_takes_an_explicit_state_and_is_idempotent(db: Path) -> None:
    run = init()
    run.log(epoch=1, val_loss=0.3)
    with pytest.raises(ValueError, match="run.finish: state: must be one of completed, .*, got 'running'"):
        run.finish("running")
    run.finish("early_stopped", "val_loss stalled for 3 epochs")
    run.finish()
    with pytest.raises(RuntimeError, match="already ended early_stopped"):
        run.log(epoch=2, val_loss=0.2)
    record = stored(db, run.trial_id)
    assert (record.state, record.reason) == (TrialState.EARLY_STOPPED, "val_loss stalled for 3 epochs")


@pytest.fixture
def run(db: Path) -> Iterator[Run]:
    with init() as started:
        yield started


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_copies_a_file_or_saves_an_object_and_records_it(run: Run, tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights " * 1000)
    run.log(epoch=3, val_loss=0.2)
    best = run.save(weights)
    assert best == run.store.artifacts / str(run.trial_id) / "best.safetensors" and sha(best) == sha(weights)
    (record,) = run.store.checkpoints(run.trial_id, "best")
    assert (record.path, record.epoch, record.size, record.sha256) == (best, 3, 8000, sha(weights))
    saved = run.save({"w": torch.arange(6.0)})  # a best of another kind replaces the first, file and all
    assert saved.name == "best.pt" and not best.exists()
    assert torch.equal(torch.load(saved, weights_only=True)["w"], torch.arange(6.0))
    (record,) = run.store.checkpoints(run.trial_id, "best")
    assert (record.path, record.size, record.sha256) == (saved, saved.stat().st_size, sha(saved))
    for epoch in (4, 5, 6):
        run.log(epoch=epoch, val_loss=0.1)
        run.save({"epoch": torch.tensor(epoch)}, name="last")
    run.save({"epoch": torch.tensor(60)}, name="last")  # again in epoch 6: the same file, one record
    assert [r.epoch for r in run.store.checkpoints(run.trial_id, "last")] == [6, 5]  # the two newest are kept
    assert not (saved.parent / "last-4.pt").exists() and (saved.parent / "last-5.pt").exists()
    assert torch.load(saved.parent / "last-6.pt", weights_only=True)["epoch"] == 60
    with pytest.raises(ValueError, match="run.save: name: must be 'best' or 'last', got 'final'"):
        run.save(weights, name="final")
    with pytest.raises(FileNotFoundError, match="run.save: .*missing.pt: no such file"):
        run.save(tmp_path / "missing.pt")
