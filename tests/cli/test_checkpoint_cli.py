"""`resume`, `export-model`, `gc` and `show`'s checkpoint lines end to end: the console script on tiny toy2d
trials trained for real. A trial to resume is made here in the test's process where how it stopped does
not matter (a cancelled TrialRun), and by `kill -9` of a foreground `tunedeck run` where it does."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.config.presets import load_preset
from engine.events import EpochEnded
from engine.execution.runner import TrialRun
from engine.states import TrialState
from engine.store import Store
from tests.cli.clirunner import Cli, one_line_error

PRESET = """\
extends = "toy2d-mlp"
name = "ckpt"

[task]
n_samples = {n}

[model]
hidden = [16]

[optim]
max_epochs = {epochs}
batch_size = {batch}
scheduler = "step"
step_size = 10
gamma = 0.5

[reg]
dropout = 0.2

[early_stop]
patience = 0

[run]
checkpoint_every = 0
"""
WAIT_S = 60
RESUMES = re.compile(r"^trial (\d+) resumes from epoch (\d+) \(checkpoint (.+?)[;)]", re.M)


def _preset(cli: Cli, *, n: int = 300, epochs: int = 8, batch: int = 64) -> str:
    path = cli.cwd / f"ckpt-{n}-{epochs}-{batch}.toml"
    path.write_text(PRESET.format(n=n, epochs=epochs, batch=batch), encoding="utf-8")
    return str(path)


def _stopped_trial(cli: Cli, after: int, **preset: int) -> int:
    """A trial trained here into epoch `after + 1` and then cancelled (its runner broken out of before
    that epoch's checkpoint): its `last` checkpoints of epochs `after` and `after - 1` stay, as after Ctrl+C."""
    config = load_preset(_preset(cli, **preset))
    with Store(cli.store) as store:
        run = TrialRun(store, config)
        for event in run:
            if isinstance(event, EpochEnded) and event.epoch == after + 1:  # checkpoint `after` is written
                break
        assert store.trial(run.trial_id).state == TrialState.CANCELLED
        assert [c.epoch for c in store.checkpoints(run.trial_id, "last")] == [after, after - 1]
        return run.trial_id


def _completed_trial(cli: Cli, **preset: int) -> int:
    with Store(cli.store) as store:
        run = TrialRun(store, load_preset(_preset(cli, **preset)))
        for _ in run:
            pass
        assert store.trial(run.trial_id).state == TrialState.COMPLETED
        return run.trial_id


def _epochs(store_path: Path, trial_id: int) -> list[dict]:
    with Store(store_path) as store:
        return store.epochs(trial_id)


def test_a_killed_run_resumes_to_the_same_curve_as_an_uninterrupted_one(cli: Cli) -> None:
    preset = _preset(cli, n=2000, epochs=20, batch=16)  # about 0.05 s an epoch: time to kill it mid-way
    reference = cli.cwd / "reference.db"
    uninterrupted = cli.popen("run", preset, "--store", str(reference), "--quiet")
    victim = cli.popen("run", preset)
    try:
        _wait_for_epoch(cli, victim, 4)
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        victim.kill()
        victim.communicate()
    with Store(cli.store) as store:  # opening it finds the process gone
        assert store.trial(1).state == TrialState.INTERRUPTED

    resumed = cli("resume", "1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    match = RESUMES.search(resumed.stdout)
    assert match and resumed.stdout.startswith(match.group(0)), resumed.stdout
    k = int(match.group(2))
    assert k >= 3 and Path(match.group(3)).name == f"last-{k}.pt"
    assert re.search(rf"^  epoch +{k + 1}/20 ", resumed.stdout, re.M) and f"epoch {k:>2}/20" not in resumed.stdout
    assert "trial 1 completed" in resumed.stdout

    assert uninterrupted.wait(timeout=WAIT_S) == 0, uninterrupted.communicate()
    got, want = _epochs(cli.store, 1), _epochs(reference, 1)
    assert [e["epoch"] for e in got] == list(range(1, 21)) == [e["epoch"] for e in want]
    for a, b in zip(got, want):
        assert abs(a["val_loss"] - b["val_loss"]) <= 1e-6, (a, b)
    with Store(cli.store) as store, Store(reference) as ref:
        assert store.trial(1).test_acc == ref.trial(1).test_acc is not None
        assert store.checkpoints(1, "last") == []  # completed: it cannot resume again
    shown = cli("show", "1")
    assert re.search(rf"resumed +from the checkpoint of epoch {k} at ", shown.stdout), shown.stdout
    assert re.search(r"checkpoints +best epoch \d+ \([\d.]+ KiB\) in .*trials\.artifacts/1$", shown.stdout, re.M)


def _wait_for_epoch(cli: Cli, run: subprocess.Popen, epoch: int) -> None:
    deadline = time.monotonic() + WAIT_S
    assert run.stdout is not None and run.stdout.readline().startswith("trial 1: ")  # its store is made
    with Store(cli.store) as store:
        while not (store.trials() and store.trials()[0].epochs_run >= epoch):
            assert run.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, f"timed out waiting for epoch {epoch}"
            time.sleep(0.02)


def test_export_model_loads_in_a_fresh_process_and_scores_the_stored_test_accuracy(cli: Cli) -> None:
    trial_id = _completed_trial(cli)
    out = cli("export-model", str(trial_id), "-o", "model.pt")
    assert out.returncode == 0, out.stderr
    assert "best checkpoint, epoch" in out.stdout and "model.toml" in out.stdout and "KiB" in out.stdout
    assert 'tunedeck.load_model("model.pt")' in out.stdout
    score = (
        "import sys, tunedeck, torch\n"
        "from engine.config.groups import Config\n"
        "from engine.store import Store\n"
        "from engine.training.loop import evaluate, prepare\n"
        "model = tunedeck.load_model('model.pt')\n"
        "assert isinstance(model, torch.nn.Module) and not model.training\n"
        f"with Store({str(cli.store)!r}) as store:\n"
        f"    record = store.trial({trial_id})\n"
        "setup = prepare(Config.from_dict(record.config))\n"
        "setup.model = model\n"
        "loss, acc = evaluate(setup, setup.data.test)\n"
        "print(acc == record.test_acc, acc, record.test_acc)\n"
    )
    scored = subprocess.run([sys.executable, "-c", score], cwd=cli.cwd, capture_output=True, text=True, timeout=60)
    assert scored.stdout.startswith("True "), scored.stdout + scored.stderr

    one_line_error(cli("export-model", str(trial_id), "-o", "model.pt"), "exists", "--force")
    assert cli("export-model", str(trial_id), "-o", "model.pt", "--force").returncode == 0
    with Store(cli.store) as store:
        best = store.checkpoints(trial_id, "best")[0].path
    best.write_bytes(best.read_bytes()[:100])
    one_line_error(cli("export-model", str(trial_id), "-o", "x.pt"), "truncated")
    assert not (cli.cwd / "x.pt").exists()


def test_a_damaged_checkpoint_falls_back_and_none_usable_must_start_over(cli: Cli) -> None:
    one = _stopped_trial(cli, after=4)
    two = _stopped_trial(cli, after=3)
    with Store(cli.store) as store:
        newest = store.checkpoints(one, "last")[0].path
        for record in store.checkpoints(two, "last"):
            record.path.write_bytes(record.path.read_bytes()[:-10])
    newest.write_bytes(newest.read_bytes()[:-10])

    resumed = cli("resume", str(one))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    first = resumed.stdout.splitlines()[0]
    assert first.startswith(f"trial {one} resumes from epoch 3 (checkpoint ") and "last-3.pt" in first
    assert "unusable" in first and "last-4.pt" in first and "truncated" in first
    assert [e["epoch"] for e in _epochs(cli.store, one)] == list(range(1, 9))
    assert "resumed from an older checkpoint" in cli("show", str(one)).stdout

    one_line_error(cli("resume", str(two)), "no usable checkpoint", "must start over", "--restart")
    with Store(cli.store) as store:
        assert store.trial(two).state == TrialState.CANCELLED  # refused: nothing changed
    restarted = cli("resume", str(two), "--restart")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert restarted.stdout.startswith(f"trial {two} starts over from epoch 1")
    assert re.search(r"^  epoch 1/8 ", restarted.stdout, re.M)
    assert [e["epoch"] for e in _epochs(cli.store, two)] == list(range(1, 9))

    one_line_error(cli("resume", str(two)), f"trial {two} is completed", "nothing to resume")
    one_line_error(cli("resume", "99"), "no trial with id 99")
    with Store(cli.store) as store:
        queued = store.create_trial(load_preset(_preset(cli)))
    one_line_error(cli("resume", str(queued)), "queued already")


def test_gc_dry_run_lists_exactly_what_gc_removes_and_keeps_what_is_needed(cli: Cli) -> None:
    completed = _completed_trial(cli)
    stopped = _stopped_trial(cli, after=3)
    crashed = _stopped_trial(cli, after=3)
    with Store(cli.store) as store:  # as when its trainer process crashed: failed, its `last` files left
        store.mark_finished(crashed, TrialState.FAILED, "the trainer process exited with code -11")
        artifacts = store.artifacts
        keep = [c.path for c in store.checkpoints(completed) + store.checkpoints(stopped)]
        keep += [c.path for c in store.checkpoints(crashed, "best")]
        crashed_last = {c.path for c in store.checkpoints(crashed, "last")}
    stray = artifacts / "77" / "last-5.pt"
    stray.parent.mkdir()
    stray.write_bytes(b"x" * 100)
    tmp = artifacts / str(stopped) / ".last-4.pt.123.tmp"
    tmp.write_bytes(b"y" * 50)

    dry = cli("gc", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    listed = {Path(m) for m in re.findall(r"^ +[\d.]+ (?:B|KiB)  (\S+)  \(", dry.stdout, re.M)}
    assert listed == crashed_last | {stray, tmp}, dry.stdout
    assert "nothing removed (dry run)" in dry.stdout and f"trial {crashed} is failed" in dry.stdout
    assert all(p.exists() for p in listed)

    done = cli("gc")
    assert done.returncode == 0, done.stderr
    assert {Path(m) for m in re.findall(r"^ +[\d.]+ (?:B|KiB)  (\S+)  \(", done.stdout, re.M)} == listed
    assert re.search(r"^removed 4 files: [\d.]+ KiB freed$", done.stdout, re.M), done.stdout
    assert not any(p.exists() for p in listed)
    assert keep and all(p.exists() for p in keep)
    with Store(cli.store) as store:
        assert store.checkpoints(crashed, "last") == [] and store.checkpoints(completed, "best")
    assert cli("gc").stdout.startswith("nothing to remove")


def test_resume_detach_hands_the_trial_to_the_supervisor_which_completes_it(cli: Cli) -> None:
    trial_id = _stopped_trial(cli, after=3)
    out = cli("resume", str(trial_id), "--detach")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith(f"trial {trial_id} resumes from epoch 3 ") and "queued for the supervisor" in out.stdout
    assert f"tunedeck watch {trial_id}" in out.stdout
    deadline = time.monotonic() + WAIT_S
    with Store(cli.store) as store:
        while not store.trial(trial_id).state.is_finished:
            assert time.monotonic() < deadline, "timed out waiting for the supervisor to finish the trial"
            time.sleep(0.2)
        record = store.trial(trial_id)
        assert record.state == TrialState.COMPLETED and record.owner == "supervisor", record
        assert [r["epoch"] for r in record.run_info["resumed"]] == [3]
    assert [e["epoch"] for e in _epochs(cli.store, trial_id)] == list(range(1, 9))
