"""Does the cockpit slow training down? The same trial bare, under the supervisor with the cockpit, and detached.

    python benchmarks/ui_overhead.py [--rounds 3] [--epochs 6] [--model small|large|both]

Per model (a small, Python-bound MLP and a large, compute-bound one), rounds alternate:

  (a) bare: `engine.training.loop.train(config)` in this process, no store, no UI;
  (b) cockpit: the cockpit (headless `App.run_test` at 120x36, following the store with its plot,
      status lines and table live at their default rates) queues the trial with its Start action
      (`client.enqueue`); the store's real, detached supervisor (`python -m engine.supervisor STORE`,
      started by `SupervisorClient.ensure`) trains it in its warm trainer process, and the cockpit
      follows the store until the trial ends;
  (c) detached: the trial is queued with `client.enqueue` and nothing follows it but this script,
      which reads its row every 0.5 s until it ends.

Steps/s comes from the loop's own per-epoch timings (the stored `epoch_seconds` metric for (b) and
(c), the EpochEnded events for (a); steps per epoch from the trial's TrialStarted / `run_info`),
epoch 1 left out (it pays for warm-up), so it measures training speed, not start-up. Every run uses
one torch thread, so the comparison is like for like. One store and one supervisor serve every
round: the supervisor is started (and prewarms its trainer) before the first round and shut down
at the end. Prints steps/s per round and the median ratios b/a and c/a per model (the target is
>= 0.97 for both); the CPU the cockpit's process used while it followed the trial in (b), as a
share of one core (what the trainer competes with on a small box); and, per round, "others": the
cores other processes kept busy during a / b / c (/proc/stat less the CPU of this process, the
supervisor and its trainer). The box is shared: a round where others hold a core is a round where
the trainer and the cockpit share what is left. `--epochs` trains longer (6 epochs of the small MLP
last about 0.3 s here, short enough for one scheduling hiccup to move a round by 30%); `--model`
runs one model only. Figures and the command: docs/performance.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.events import EpochEnded, Event, TrialStarted
from engine.store import Store
from engine.supervisor.client import SupervisorClient
from engine.supervisor.files import running_pid

MODELS: dict[str, dict[str, Any]] = {
    "small MLP 16 (Python-bound)": {"model": {"hidden": [16]}},
    "large MLP 1024x1024 (compute-bound)": {"model": {"hidden": [1024, 1024]}},
}
BASE: dict[str, Any] = {"task": {"name": "toy2d", "n_samples": 20000}, "optim": {"batch_size": 64, "max_epochs": 6},
                        "early_stop": {"patience": 0}, "run": {"threads": 1, "device": "cpu"}}
DETACHED_POLL_SECONDS = 0.5
SAFETY_IDLE_EXIT = 300.0  # the supervisor ends by itself this long after its last trial, should this script die
TRIAL_TIMEOUT = 600.0


def event_steps_per_second(events: list[Event]) -> float:
    per_epoch = next(e.steps_per_epoch for e in events if isinstance(e, TrialStarted))
    epochs = [e for e in events if isinstance(e, EpochEnded) and e.epoch > 1]
    return per_epoch * len(epochs) / sum(e.seconds for e in epochs)


def stored_steps_per_second(store: Store, trial_id: int) -> float:
    """The same figure from what the trainer stored: run_info's steps per epoch, each epoch's `epoch_seconds`."""
    record = store.trial(trial_id)
    if not record.state.is_finished or "steps_per_epoch" not in record.run_info:
        raise RuntimeError(f"trial {trial_id} did not train: {record.state.value} ({record.reason})")
    if record.run_info.get("threads") != 1:
        print(f"  note: trial {trial_id} ran with {record.run_info.get('threads')} torch threads", flush=True)
    epochs = [e for e in store.epochs(trial_id) if e["epoch"] > 1 and e["epoch_seconds"] is not None]
    if not epochs:
        raise RuntimeError(f"trial {trial_id} stored no epoch after the first ({record.reason})")
    return record.run_info["steps_per_epoch"] * len(epochs) / sum(e["epoch_seconds"] for e in epochs)


def tree(pid: int | None) -> list[int]:
    """`pid` and its descendants (the supervisor and its trainer processes)."""
    if pid is None:
        return []
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                for child in fh.read().split():
                    found += tree(int(child))
    except OSError:
        pass
    return found


class OtherLoad:
    """Cores kept busy by other processes during a run: the box's busy time from /proc/stat, less this
    process's and the supervisor's (and its trainers') CPU time. None where /proc is missing."""

    def __init__(self, supervisor: int | None) -> None:
        self.supervisor = supervisor
        self.start, self.started = self._sample(), time.perf_counter()

    def _sample(self) -> tuple[float, float] | None:
        try:
            tick = os.sysconf("SC_CLK_TCK")
            with open("/proc/stat") as fh:
                f = [int(x) for x in fh.readline().split()[1:]]
            box = (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / tick  # all but idle and iowait
            ours = sum(os.times()[:2])
            for pid in tree(self.supervisor):
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                ours += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            return box, ours
        except (OSError, ValueError, IndexError):
            return None

    def cores(self) -> float | None:
        end, seconds = self._sample(), time.perf_counter() - self.started
        if self.start is None or end is None or seconds <= 0:
            return None
        return max(0.0, (end[0] - self.start[0]) - (end[1] - self.start[1])) / seconds


def bare(config: Config) -> float:
    from engine.training.loop import train

    return event_steps_per_second(list(train(config, threading.Event())))


class RecordingClient(SupervisorClient):
    """The real client (detached supervisor), remembering the id of the trial it queued last."""

    last: int | None = None

    def enqueue(self, config: Config) -> int:
        self.last = super().enqueue(config)
        return self.last


async def with_cockpit(config: Config, store: Store, client: RecordingClient) -> tuple[int, float]:
    """Queue the trial from the cockpit's Start action and follow it there until it ends; its id, and the
    CPU this process (the cockpit) used meanwhile, as a fraction of one core."""
    from tui.app import TunedeckApp

    app = TunedeckApp(config, store, client)
    async with app.run_test(size=(120, 36)) as pilot:
        while not app.cockpit.ready:
            await pilot.pause(0.1)
        client.last = None
        cpu, wall = time.process_time(), time.perf_counter()
        app.cockpit.action_start_trial()
        trial_id = client.last
        if trial_id is None:
            raise RuntimeError("the cockpit queued no trial (is the form valid?)")
        if store.trial(trial_id).config != config.to_dict():
            print("  note: the cockpit's form queued a config that differs from the benchmark's", flush=True)
        deadline = time.monotonic() + TRIAL_TIMEOUT
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # not pilot.pause: it posts a message to every widget, which the cockpit never pays
            record = app.services.follower.get(trial_id)
            if record is not None and record.state.is_finished:
                break
        else:
            raise RuntimeError(f"trial {trial_id} did not end within {TRIAL_TIMEOUT:.0f} s")
        share = (time.process_time() - cpu) / (time.perf_counter() - wall)
    return trial_id, share


def detached(config: Config, store: Store, client: SupervisorClient) -> int:
    """Queue the trial with no cockpit; read its row every 0.5 s until it ends; its id."""
    trial_id = client.enqueue(config)
    deadline = time.monotonic() + TRIAL_TIMEOUT
    while not store.trial(trial_id).state.is_finished:
        if time.monotonic() > deadline:
            raise RuntimeError(f"trial {trial_id} did not end within {TRIAL_TIMEOUT:.0f} s")
        time.sleep(DETACHED_POLL_SECONDS)
    return trial_id


def shut_down(client: SupervisorClient, timeout: float = 30.0) -> None:
    client.shutdown("stopped: the benchmark ended")
    deadline = time.monotonic() + timeout
    while running_pid(client.files) is not None:
        if time.monotonic() > deadline:
            print(f"warning: supervisor {client.pid()} still runs {timeout:.0f} s after its shutdown; "
                  f"it ends by itself after {SAFETY_IDLE_EXIT:.0f} s idle", file=sys.stderr)
            return
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6, help="epochs per trial (the first is left out)")
    parser.add_argument("--model", choices=("small", "large", "both"), default="both")
    args = parser.parse_args()
    models = {name: spec for name, spec in MODELS.items() if args.model in ("both", name.split()[0])}
    from engine.execution.trainer_process import prepare_multiprocessing
    from engine.supervisor.launch import ensure_supervisor
    from engine.training.loop import train

    prepare_multiprocessing()
    print(f"median of {args.rounds} alternating rounds a, b, c; {args.epochs} epochs, steps/s excluding epoch 1; "
          "one torch thread", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        client = RecordingClient(store, launch=lambda: ensure_supervisor(store.path, idle_exit=SAFETY_IDLE_EXIT))
        try:
            client.ensure()
            print(f"supervisor {client.pid()} started; one untimed trial warms its trainer up", flush=True)
            warm_up = Config.from_dict({**BASE, "optim": {"batch_size": 64, "max_epochs": 1}})
            detached(warm_up, store, client)
            list(train(warm_up, threading.Event()))  # this process's torch import and first optimizer
            for name, spec in models.items():
                config = Config.from_dict({**BASE, **spec, "optim": {**BASE["optim"], "max_epochs": args.epochs}})
                runs: dict[str, list[float]] = {"a": [], "b": [], "c": [], "ui": []}
                for index in range(args.rounds):
                    load = OtherLoad(client.pid())
                    a = bare(config)
                    others = [load.cores()]
                    load = OtherLoad(client.pid())
                    trial_id, ui = asyncio.run(with_cockpit(config, store, client))
                    others.append(load.cores())
                    runs["ui"].append(ui)
                    b = stored_steps_per_second(store, trial_id)
                    load = OtherLoad(client.pid())
                    c = stored_steps_per_second(store, detached(config, store, client))
                    others.append(load.cores())
                    busy = " / ".join("n/a" if x is None else f"{x:.1f}" for x in others)
                    for key, value in zip("abc", (a, b, c)):
                        runs[key].append(value)
                    print(f"  {name} round {index + 1}: a bare {a:7.1f}/s  b cockpit {b:7.1f}/s  "
                          f"c detached {c:7.1f}/s   b/a {b / a:.2f}  c/a {c / a:.2f}   cockpit CPU {ui:.0%}   others {busy}",
                          flush=True)
                ba = [b / a for a, b in zip(runs["a"], runs["b"])]
                ca = [c / a for a, c in zip(runs["a"], runs["c"])]
                print(f"{name:<36} bare {statistics.median(runs['a']):7.1f}/s  cockpit "
                      f"{statistics.median(runs['b']):7.1f}/s  detached {statistics.median(runs['c']):7.1f}/s\n"
                      f"{'':<36} b/a {statistics.median(ba):.2f} ({', '.join(f'{r:.2f}' for r in ba)})"
                      f"   c/a {statistics.median(ca):.2f} ({', '.join(f'{r:.2f}' for r in ca)})"
                      f"   cockpit CPU {statistics.median(runs['ui']):.0%} of a core", flush=True)
        finally:
            shut_down(client)
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
