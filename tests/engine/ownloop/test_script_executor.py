"""The script executor with real scripts in real processes and a real store: what they log reaches the store
while they run, how they are launched, how each kind of end is recorded."""
from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

from engine.events import EpochEnded, Event, StopSignal, TrialFinished
from engine.execution.executors import ThreadExecutor
from engine.execution.placement import Gpu, Placement
from engine.execution.pool import TrialPool
from engine.ownloop.routing import ScriptRouter
from engine.states import TrialState
from engine.store import Store
from tests.engine.ownloop.script_helpers import WAIT, alive, fast_executor, script_config, wait_until, write_script
from tests.engine.sweeps.helpers import toy

TUNEDECK_TWO_EPOCHS = """
import tunedeck
with tunedeck.init() as run:
    run.log(epoch=1, train_loss=0.9, val_loss=0.8)
    wait_for(sys.argv[1])
    run.log(epoch=2, train_loss=0.7, val_loss=0.6)
"""
PLAIN_TWO_EPOCHS = """
print("settings: batch_size=64 seed=0")
print("epoch: 1")
print("val_loss: 0.8")
wait_for(sys.argv[1])
print("epoch=2 train_loss=0.5 val_loss=0.6 accuracy=0.7")
"""


class Collected:
    """A sink that keeps every event, from any thread."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, trial_id: int, batch: object) -> None:
        with self._lock:
            self.events.extend(batch)  # type: ignore[arg-type]

    def epochs(self) -> list[int]:
        with self._lock:
            return [e.epoch for e in self.events if isinstance(e, EpochEnded)]


def run_in_thread(store: Store, config: object, **kwargs: object) -> tuple[int, threading.Thread, list, Collected]:
    trial_id = store.create_trial(config)  # type: ignore[arg-type]
    sink, out = Collected(), []
    executor = kwargs.pop("executor", None) or fast_executor(store)
    cancel = kwargs.pop("cancel", None) or StopSignal()
    thread = threading.Thread(target=lambda: out.append(executor.run(  # type: ignore[attr-defined]
        store.path, trial_id, config, cancel, sink, **kwargs)))
    thread.start()
    return trial_id, thread, out, sink


# --- logging reaches the store live ---------------------------------------------------------------------

def test_a_tunedeck_script_s_epochs_reach_the_store_while_it_runs(store: Store, tmp_path: Path) -> None:
    go = tmp_path / "go"
    config = script_config(write_script(tmp_path, "train.py", TUNEDECK_TWO_EPOCHS), **{"task.args": [str(go)]})
    trial_id, thread, out, sink = run_in_thread(store, config)
    wait_until(lambda: len(store.epochs(trial_id)) == 1, "the first epoch is stored")
    record = store.trial(trial_id)
    assert record.state is TrialState.RUNNING and record.pid != os.getpid() and alive(record.pid)  # the script's
    wait_until(lambda: sink.epochs() == [1], "the first epoch reached the sink")
    go.touch()
    thread.join(WAIT)
    finished = out[0]
    assert finished.state is TrialState.COMPLETED and finished.reason.startswith("the script ended after 2 epochs")
    assert [e["val_loss"] for e in store.epochs(trial_id)] == [0.8, 0.6]
    assert sink.epochs() == [1, 2] and isinstance(sink.events[-1], TrialFinished)
    assert store.trial(trial_id).best_val_loss == 0.6 and finished.summary.epochs_run == 2


def test_a_plain_script_s_stdout_lines_are_recorded_as_epochs_while_it_runs(store: Store, tmp_path: Path) -> None:
    go = tmp_path / "go"
    config = script_config(write_script(tmp_path, "plain.py", PLAIN_TWO_EPOCHS), **{"task.args": [str(go)]})
    trial_id, thread, out, sink = run_in_thread(store, config)
    wait_until(lambda: len(store.epochs(trial_id)) == 1, "the first epoch read from stdout is stored")
    record = store.trial(trial_id)
    assert record.state is TrialState.RUNNING and record.pid == os.getpid()  # held by the executor
    assert store.epochs(trial_id)[0]["val_loss"] == 0.8  # the setting line before it is no epoch
    go.touch()
    thread.join(WAIT)
    finished = out[0]
    assert finished.state is TrialState.COMPLETED, finished.reason
    assert "exited with code 0 after 2 epochs" in finished.reason
    assert [(e["epoch"], e["val_loss"], e["train_loss"]) for e in store.epochs(trial_id)] == [(1, 0.8, None),
                                                                                            (2, 0.6, 0.5)]
    assert ("accuracy", 0.7) in [(m, v) for _, _, _, m, v in store.history([trial_id])]  # a metric of its own
    assert finished.summary.best_val_loss == 0.6 and finished.summary.best_epoch == 2
    assert sink.epochs() == [1, 2]
    logs = store.artifacts / str(trial_id)
    assert "epoch=2 train_loss=0.5" in (logs / "stdout.log").read_text()


def test_the_script_gets_its_handoff_flags_environment_gpu_and_process_group(store: Store, tmp_path: Path) -> None:
    body = """
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--optim.lr", dest="lr", type=float)
    parser.add_argument("--model.hidden", dest="hidden")
    args, rest = parser.parse_known_args()
    seen = {"argv": sys.argv[1:], "lr": args.lr, "hidden": args.hidden, "cwd": os.getcwd(),
            "handoff": json.load(open(os.environ["TUNEDECK_TRIAL"])), "store": os.environ["TUNEDECK_STORE"],
            "threads": os.environ.get("TUNEDECK_MAX_THREADS"), "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "leader": os.getpgid(0) == os.getpid() == os.getsid(0)}
    json.dump(seen, open(sys.argv[1], "w"))
    """
    seen_file = tmp_path / "seen.json"
    path = write_script(tmp_path, "show.py", body)
    config = script_config(path, **{"task.args": [str(seen_file), "--own"], "task.pass_flags": True,
                                    "optim.lr": 0.02, "model.hidden": [16, 8]})
    executor = fast_executor(store, placement=Placement([Gpu(0), Gpu(5)]))
    trial_id, thread, out, _ = run_in_thread(store, config, executor=executor, threads=3)
    thread.join(WAIT)
    assert out[0].state is TrialState.COMPLETED, out[0].reason
    seen = json.loads(seen_file.read_text())
    assert seen["argv"][:2] == [str(seen_file), "--own"] and "--task.path" not in seen["argv"]
    assert seen["lr"] == 0.02 and seen["hidden"] == "16, 8" and seen["leader"]
    assert seen["handoff"]["trial_id"] == trial_id and seen["handoff"]["config"]["optim"]["lr"] == 0.02
    assert seen["store"] == seen["handoff"]["store"] == str(store.path.resolve())
    assert seen["threads"] == "3" and seen["gpu"] == "0" and seen["cwd"] == os.getcwd()
    assert (store.artifacts / str(trial_id) / "trial.json").is_file()
    assert executor.placement is not None and executor.placement.acquire().index == 0  # GPU 0 was given back


# --- stopping -----------------------------------------------------------------------------------------------

def test_a_tunedeck_script_stopped_from_the_pool_ends_itself_cancelled(store: Store, tmp_path: Path) -> None:
    body = """
    import tunedeck
    with tunedeck.init() as run:
        epoch = 0
        while not run.should_stop():
            epoch += 1
            run.log(epoch=epoch, train_loss=1.0, val_loss=1.0)
            time.sleep(0.05)
    """
    config = script_config(write_script(tmp_path, "loop.py", body), **{"task.stop_grace": 30.0})
    pool = TrialPool(store, fast_executor(store, notice=30.0))
    trial_id = pool.submit(config)
    wait_until(lambda: store.trial(trial_id).epochs_run >= 1, "the script logs")
    pid = store.trial(trial_id).pid
    assert pool.cancel(trial_id, "enough of this")
    assert pool.wait_idle(15.0)  # well within the notice and the grace: the script noticed by itself
    record = store.trial(trial_id)
    assert record.state is TrialState.CANCELLED and record.reason == "enough of this"
    assert record.pid == pid and not alive(pid)


def test_a_plain_script_that_ignores_sigterm_is_killed_after_the_grace(store: Store, tmp_path: Path) -> None:
    body = """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(sys.argv[1], "w").write(str(os.getpid()))
    print("epoch: 1 val_loss: 1.0")
    while True:
        time.sleep(0.05)
    """
    pid_file = tmp_path / "pid"
    config = script_config(write_script(tmp_path, "stubborn.py", body),
                           **{"task.args": [str(pid_file)], "task.stop_grace": 1.0})
    pool = TrialPool(store, fast_executor(store))
    trial_id = pool.submit(config)
    wait_until(pid_file.exists, "the script starts")
    wait_until(lambda: pid_file.read_text() != "", "the script writes its pid")
    pool.cancel(trial_id, "stopped in a test")
    assert pool.wait_idle(10.0)
    record = store.trial(trial_id)
    assert record.state is TrialState.CANCELLED, record.reason
    assert record.reason.startswith("stopped in a test (the script (pid") and "SIGKILL" in record.reason
    assert "1 s (task.stop_grace) after SIGTERM" in record.reason
    assert not alive(int(pid_file.read_text()))


def test_a_tunedeck_script_that_never_asks_gets_sigterm_after_its_notice(store: Store, tmp_path: Path) -> None:
    body = """
    import tunedeck
    run = tunedeck.init()
    run.log(epoch=1, train_loss=1.0, val_loss=1.0)
    while True:
        time.sleep(0.05)
    """
    config = script_config(write_script(tmp_path, "deaf.py", body))
    stop = StopSignal()
    trial_id, thread, out, _ = run_in_thread(store, config, executor=fast_executor(store, notice=0.5), cancel=stop)
    wait_until(lambda: store.trial(trial_id).epochs_run == 1, "the script logs")
    stop.stop(TrialState.CANCELLED, "the user stopped it")
    thread.join(WAIT)
    finished = out[0]
    assert finished.state is TrialState.CANCELLED
    assert finished.reason.startswith("the user stopped it (the script") and "SIGTERM, as asked to stop" in finished.reason
    assert store.trial(trial_id).stop_request == {"state": "cancelled", "reason": "the user stopped it"}


# --- crashes and kills ---------------------------------------------------------------------------------------

def test_a_crashing_script_fails_with_the_tail_of_its_stderr(store: Store, tmp_path: Path) -> None:
    body = """
    for i in range(80):
        print(f"warning line {i}", file=sys.stderr)
    print("RuntimeError: the data is gone", file=sys.stderr)
    sys.exit(3)
    """
    config = script_config(write_script(tmp_path, "crash.py", body))
    trial_id, thread, out, sink = run_in_thread(store, config)
    thread.join(WAIT)
    record = store.trial(trial_id)
    assert record.state is TrialState.FAILED and out[0].state is TrialState.FAILED
    assert record.reason is not None and "exited with code 3: RuntimeError: the data is gone" in record.reason
    assert record.error is not None and record.error.endswith("RuntimeError: the data is gone")
    assert "warning line 79" in record.error and "warning line 20\n" not in record.error  # the tail only
    assert len(record.error) <= 8200
    assert "warning line 0\n" in (store.artifacts / str(trial_id) / "stderr.log").read_text()  # the log keeps all
    assert isinstance(sink.events[-1], TrialFinished) and sink.events[-1].error == record.error


def test_a_tunedeck_script_that_raises_is_failed_with_its_traceback(store: Store, tmp_path: Path) -> None:
    body = """
    import tunedeck
    with tunedeck.init() as run:
        run.log(epoch=1, train_loss=1.0, val_loss=1.0)
        raise ValueError("bad batch")
    """
    trial_id, thread, out, _ = run_in_thread(store, script_config(write_script(tmp_path, "raise.py", body)))
    thread.join(WAIT)
    record = store.trial(trial_id)
    assert record.state is TrialState.FAILED and record.reason == "ValueError: bad batch"
    assert record.error is not None and "Traceback" in record.error and out[0].error == record.error


def test_a_script_killed_from_outside_is_interrupted(store: Store, tmp_path: Path) -> None:
    body = """
    open(sys.argv[1], "w").write(str(os.getpid()))
    print("val_loss: 0.5")
    time.sleep(60)
    """
    pid_file = tmp_path / "pid"
    config = script_config(write_script(tmp_path, "victim.py", body), **{"task.args": [str(pid_file)]})
    trial_id, thread, out, _ = run_in_thread(store, config)
    wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", "the script starts")
    wait_until(lambda: store.trial(trial_id).epochs_run == 1, "its epoch is recorded")
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    thread.join(WAIT)
    record = store.trial(trial_id)
    assert record.state is TrialState.INTERRUPTED and out[0].state is TrialState.INTERRUPTED
    assert "was killed by signal SIGKILL from outside tunedeck while the trial ran (1 epoch recorded)" in record.reason


def test_a_script_that_cannot_start_fails_naming_the_knob(store: Store, tmp_path: Path) -> None:
    missing = script_config(tmp_path / "nowhere.py")
    trial_id, thread, out, _ = run_in_thread(store, missing)
    thread.join(WAIT)
    assert out[0].state is TrialState.FAILED and "task.path: no such file" in out[0].reason
    assert store.trial(trial_id).state is TrialState.FAILED
    bad_python = script_config(write_script(tmp_path, "ok.py", "print('hi')"), **{"task.python": "no-such-python"})
    trial_id, thread, out, _ = run_in_thread(store, bad_python)
    thread.join(WAIT)
    assert out[0].state is TrialState.FAILED
    assert "task.python: no such interpreter" in out[0].reason and "'no-such-python'" in out[0].reason


# --- the router ------------------------------------------------------------------------------------------------

def test_the_router_sends_script_trials_to_scripts_and_the_others_to_the_wrapped_executor(
        store: Store, tmp_path: Path) -> None:
    pool = TrialPool(store, ScriptRouter(ThreadExecutor(), fast_executor(store)), parallel=2)
    script = pool.submit(script_config(write_script(tmp_path, "one.py", 'print("val_loss: 0.25")')))
    builtin = pool.submit(toy(**{"optim.max_epochs": 1}))
    assert pool.wait_idle(WAIT)
    assert store.trial(script).state is TrialState.COMPLETED and store.trial(script).best_val_loss == 0.25
    assert store.trial(builtin).state is TrialState.COMPLETED and store.trial(builtin).n_params  # trained by torch
    pool.shutdown()
