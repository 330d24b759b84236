"""`tunedeck.init()` in real scripts: run by hand, launched by a handoff, stopped from outside, failing.

Each script is a file in tmp_path run by this interpreter in a process of its own; what it recorded
is read back from the store it wrote and through the installed `tunedeck` console script.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.ownloop.protocol import TRIAL_VAR, Handoff
from engine.states import TrialState
from engine.store import ENV_VAR, Store

BIN = Path(sys.executable).parent / "tunedeck"

LOOP = """
import json, sys, tunedeck
{opening}
    json.dump({{k: run.config[k] for k in ("optim.lr", "hidden")}}, open("config.json", "w"))
    step = 0
    for epoch in range(1, 4):
        for _ in range(5):
            step += 1
            run.log(step=step, loss=1.0 / step)
        run.log(epoch=epoch, train_loss=1.0 / epoch, val_loss=[0.9, 0.4, 0.6][epoch - 1],
                val_acc=0.5 + epoch / 10, f1_macro=0.2 * epoch)
    run.log(test_loss=0.45, test_acc=0.75)
    {ending}
"""


def write_script(folder: Path, *, opening: str = 'with tunedeck.init(config={"optim.lr": 0.01, "hidden": 32}) '
                 'as run:', ending: str = "pass", body: str | None = None) -> Path:
    path = folder / "train.py"
    path.write_text(textwrap.dedent(body) if body is not None else LOOP.format(opening=opening, ending=ending))
    return path


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, TRIAL_VAR)}
    return {**env, **extra}


def run_script(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(path)], cwd=path.parent, env=clean_env(**env), capture_output=True,
                          text=True, timeout=120)


def only_trial(db: Path) -> tuple[Store, int]:
    store = Store(db)
    (record,) = store.trials()
    return store, record.id


def test_a_script_run_by_hand_is_a_trial_in_the_local_store(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    result = run_script(script)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "config.json").read_text()) == {"optim.lr": 0.01, "hidden": 32}
    store, tid = only_trial(tmp_path / "tunedeck.db")
    with store:
        record = store.trial(tid)
        assert (record.name, record.task, record.state) == ("train.py", "script", TrialState.COMPLETED)
        assert record.config["task"]["path"] == str(script)
        assert record.config["optim"]["lr"] == 0.01 and record.config["params"] == {"hidden": 32}
        assert (record.best_epoch, record.best_val_loss, record.val_acc_at_best) == (2, 0.4, pytest.approx(0.7))
        assert (record.test_loss, record.test_acc, record.epochs_run, record.steps) == (0.45, 0.75, 3, 15)
        assert record.reason == "the script ended after 3 epochs; best val_loss 0.4 at epoch 2"
        assert record.pid != os.getpid() and record.env["python"] and record.env["tunedeck"]
        epochs = store.epochs(tid)
        assert [(e["epoch"], e["step"], e["val_loss"]) for e in epochs] == [(1, 5, 0.9), (2, 10, 0.4), (3, 15, 0.6)]
        assert all(e["epoch_seconds"] is not None for e in epochs)
        f1 = store.history([tid], metric="f1_macro")
        assert [(epoch, value) for _, epoch, _, _, value in f1] == [(1, 0.2), (2, 0.4), (3, pytest.approx(0.6))]
        steps = store.history([tid], metric="step_loss")
        assert [(epoch, step) for _, epoch, step, _, _ in steps] == [((s - 1) // 5 + 1, s) for s in range(1, 16)]
    listed = subprocess.run([str(BIN), "trials", "--store", str(tmp_path / "tunedeck.db"), "--columns", "wide"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.split()[:1] == [str(tid)])
    assert "train.py" in row and "completed" in row and "script" in row  # the task column (wide: all shown)


def test_tunedeck_store_names_the_store_and_name_the_trial(tmp_path: Path) -> None:
    script = write_script(tmp_path, opening='with tunedeck.init(config={"optim.lr": 0.01, "hidden": 32}, '
                          'name="baseline") as run:')
    result = run_script(script, **{ENV_VAR: str(tmp_path / "elsewhere" / "runs.db")})
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "tunedeck.db").exists()
    store, tid = only_trial(tmp_path / "elsewhere" / "runs.db")
    with store:
        assert store.trial(tid).name == "baseline"


def test_an_exception_in_the_block_fails_the_trial_with_its_traceback(tmp_path: Path) -> None:
    script = write_script(tmp_path, ending='raise RuntimeError("the data loader broke")')
    result = run_script(script)
    assert result.returncode == 1 and "RuntimeError: the data loader broke" in result.stderr  # re-raised
    store, tid = only_trial(tmp_path / "tunedeck.db")
    with store:
        record = store.trial(tid)
        assert record.state == TrialState.FAILED
        assert record.reason == "RuntimeError: the data loader broke"
        line = script.read_text().splitlines().index("    raise RuntimeError(\"the data loader broke\")") + 1
        assert record.error is not None and record.error.startswith("Traceback") and f'"{script}", line {line}' in record.error
        assert record.epochs_run == 3 and len(store.epochs(tid)) == 3  # what it logged before is kept


@pytest.mark.parametrize(("ending", "state", "reason"), [
    ("", TrialState.COMPLETED, "the script ended after 3 epochs; best val_loss 0.4 at epoch 2"),
    ('raise ValueError("bad batch")', TrialState.FAILED, "ValueError: bad batch"),
])
def test_a_script_that_never_finishes_its_run_is_ended_at_exit(tmp_path: Path, ending: str, state: TrialState,
                                                                reason: str) -> None:
    opening = 'run = tunedeck.init(config={"optim.lr": 0.01, "hidden": 32})\nif True:'
    result = run_script(write_script(tmp_path, opening=opening, ending=ending))
    assert result.returncode == (0 if state == TrialState.COMPLETED else 1), result.stderr
    store, tid = only_trial(tmp_path / "tunedeck.db")
    with store:
        record = store.trial(tid)
        assert (record.state, record.reason, record.epochs_run) == (state, reason, 3)
        assert (record.error is not None) == (state == TrialState.FAILED)


def launched_trial(tmp_path: Path, script: Path) -> tuple[Path, int, Path]:
    """A queued script trial with its knobs set, and the handoff tunedeck's executor would write for it."""
    db = tmp_path / "sweep.db"
    config = Config.from_dict({"name": "lr-0.05", "task": {"name": "script", "path": str(script)},
                               "optim": {"lr": 0.05, "max_epochs": 7},
                               "params_spec": {"hidden": {"type": "int", "default": 16}}, "params": {"hidden": 128}})
    with Store(db) as store:
        tid = store.create_trial(config, sweep_id=None, for_supervisor=True)
    handoff = Handoff(str(db), tid, config.to_dict(), metric="val_loss", direction="minimize")
    return db, tid, handoff.write(tmp_path / "artifacts" / str(tid))


def test_a_launched_script_records_into_its_trial_with_its_values(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    db, tid, handoff = launched_trial(tmp_path, script)
    result = run_script(script, **{TRIAL_VAR: str(handoff)})
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "config.json").read_text()) == {"optim.lr": 0.05, "hidden": 128}
    assert not (tmp_path / "tunedeck.db").exists()  # no trial of its own
    with Store(db) as store:
        (record,) = store.trials()
        assert (record.id, record.name, record.state) == (tid, "lr-0.05", TrialState.COMPLETED)
        assert record.config["optim"]["max_epochs"] == 7  # the trial's config is left as it was
        assert (record.best_epoch, record.epochs_run, record.steps) == (2, 3, 15)
        assert record.env["pid"] == record.pid != os.getpid() and record.run_info["script"] == str(script)
        assert len(store.history([tid], metric="f1_macro")) == 3


STOPPABLE = """
import pathlib, sys, time, tunedeck
with tunedeck.init(config={"hidden": 8}) as run:
    for step in range(1, 3001):
        run.log(step=step, loss=1.0 / step)
        if step % 10 == 0:
            run.log(epoch=step // 10, val_loss=1.0 / step)
        pathlib.Path("started").touch()
        if run.should_stop():
            print("stopped:", run.stop_state.value, run.stop_reason, flush=True)
            break
        time.sleep(0.01)
"""


@pytest.mark.parametrize(("state", "reason"), [
    ("pruned", "val_loss 0.01 worse than the median of trials 1-4 at epoch 2"),
    ("cancelled", "cancelled by the user"),
])
def test_a_stop_request_ends_the_script_and_its_trial(tmp_path: Path, state: str, reason: str) -> None:
    script = write_script(tmp_path, body=STOPPABLE)
    db, tid, handoff = launched_trial(tmp_path, script)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=clean_env(**{TRIAL_VAR: str(handoff)}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        with Store(db) as store:
            store.request_stop(tid, state, reason)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert f"stopped: {state} {reason}" in out
    with Store(db) as store:
        record = store.trial(tid)
        assert (record.state.value, record.reason) == (state, reason)
        assert 0 < record.steps < 3000  # it stopped early, and what it logged before is kept
        assert len(store.history([tid], metric="step_loss")) == record.steps


def test_a_handoff_for_a_finished_trial_is_refused_in_one_line(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    db, tid, handoff = launched_trial(tmp_path, script)
    with Store(db) as store:
        store.cancel_unclaimed(tid, "cancelled before it started")
    result = run_script(script, **{TRIAL_VAR: str(handoff)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"engine.errors.StoreError: trial {tid} in {db} is cancelled: it cannot run again")


def test_import_tunedeck_and_init_load_neither_torch_nor_textual() -> None:
    code = ("import sys, tunedeck\ntunedeck.init, tunedeck.Run\n"
            "print([m for m in ('torch', 'textual', 'rich', 'plotext') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
