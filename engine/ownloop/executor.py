"""The script executor: a trial of `task.name = "script"` runs the user's own script as a process.

`ScriptExecutor.run` marks the queued trial running (held by this process), writes the handoff
(`<store>.artifacts/<id>/trial.json`) and starts the script (engine/ownloop/launch.py) with the trial's
GPU and thread budget. While it runs, it polls the store every POLL_SECONDS for the rows the script
committed, hands them to `sink` as events and asks `judge` (a sweep's pruner) about each epoch. Unlike
tunedeck's own loop, a script does not wait for the verdict: it is stopped within a second or two of the
judged epoch being stored (engine/ownloop/metric_events.py says when an epoch counts as whole). Epochs
that arrive after the script exited are still shown to the judge, so that the pruner knows the whole
curve of a trial that completed, but end nothing. The GPU placement may be the one the warm trainer
processes draw from (the supervisor shares it); each executor locks its own draws only.

Who records the trial: a script that calls `tunedeck.init()` takes the trial (the row then names the
script's pid, not ours: that is how the two kinds are told apart) and records everything itself. For a
script that does not, the executor reads metric lines from its stdout (engine/ownloop/script_output.py)
and records them, with the trial's progress and heartbeat, as `run.log` would. Such epochs are held
back for STDOUT_HOLD_SECONDS after the start, so that a tunedeck script printing its settings
(`lr: 0.001`) before `init()` does not log an epoch; once the script takes the trial, stdout is output only.

Stopping (the user, a sweep ending, the pruner, a diverged loss read from stdout): the executor leaves
a stop request in the row (what `run.should_stop()` reads, within about a second). A script that took
the trial gets STOP_NOTICE_SECONDS to end itself with the requested state; one that did not (it cannot
read the request) gets SIGTERM at once. SIGTERM goes to the script's whole process group, SIGKILL
follows after `task.stop_grace` seconds.

How it ends, when the script did not record it: stopped -> the requested state and reason; exit 0 ->
`completed`; killed by SIGKILL/SIGTERM/SIGHUP/SIGINT that tunedeck did not send -> `interrupted`; any
other exit -> `failed`, with the tail of its stderr as the error. Stdout and stderr are kept whole in
`stdout.log` and `stderr.log` beside the handoff.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

from engine.config.groups import Config
from engine.errors import ConfigError, StoreError
from engine.events import EpochEnded, Event, StopSignal, Summary, TrialFinished
from engine.execution.child_end import how_it_ended
from engine.execution.executors import Judge, Sink, ask_judge
from engine.execution.placement import Gpu, Placement
from engine.ownloop import launch
from engine.ownloop.logbook import Logbook, LogError
from engine.ownloop.metric_events import MetricEvents
from engine.ownloop.protocol import Handoff
from engine.ownloop.script_output import LineEpoch, MetricLines, StderrTail, pump
from engine.states import TrialState
from engine.store.liveness import HEARTBEAT_SECONDS
from engine.store.schema import TrialRecord
from engine.store.script_runs import requested_stop
from engine.store.trials import Store
from engine.tasks.plugin_code import file_record
from engine.training import THREAD_CAP_VAR

POLL_SECONDS = 0.25
STOP_NOTICE_SECONDS = 3.0  # should_stop() turns true within about a second; then the script ends its step
STDOUT_HOLD_SECONDS = 2.0
PIPE_WAIT = 2.0  # after the script exits, for its output still in the pipes
KILLED_FROM_OUTSIDE = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT})


class ScriptExecutor:
    """Runs script trials, one process (group) each; `placement` pins each to a GPU while it runs.

    `store`: the open store the caller records into (the pool's): runs on that file go through it
    rather than through a second connection of this process. (A second `Store` opened in a process
    that holds one drops that process's SQLite file locks (its header check opens and closes the
    file), and the next connection another process closes, a script's, then takes itself for the
    last one and deletes the WAL under the first: "disk I/O error".)
    """

    def __init__(self, *, placement: Placement | None = None, env: dict[str, str] | None = None,
                 store: Store | None = None, poll: float = POLL_SECONDS, notice: float = STOP_NOTICE_SECONDS,
                 hold: float = STDOUT_HOLD_SECONDS) -> None:
        self.placement = placement
        self.store = store
        self.env = dict(env or {})
        self.poll = poll
        self.notice = notice
        self.hold = hold
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._closed = False

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event,
            sink: Sink, *, judge: Judge | None = None, threads: int | None = None) -> TrialFinished:
        path = Path(store_path).resolve()
        if self.store is not None and self.store.path.resolve() == path:
            return self._run(self.store, trial_id, config, cancel, sink, judge, threads)
        with Store(path) as store:
            return self._run(store, trial_id, config, cancel, sink, judge, threads)

    def _run(self, store: Store, trial_id: int, config: Config, cancel: threading.Event, sink: Sink,
             judge: Judge | None, threads: int | None) -> TrialFinished:
        gpu = self._acquire()
        try:
            return _ScriptRun(self, store, trial_id, config, cancel, sink, judge, threads, gpu).run()
        finally:
            self._release(gpu)

    def shutdown(self, wait: float = 2.0) -> None:
        """Stop every script still running: SIGTERM to its group, SIGKILL after `wait` seconds. Their runs
        record them (stopped, since the pool asked them to stop before it shut its executor down)."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for process in running:
            launch.signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + wait
        for process in running:
            while not launch.exited(process) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not launch.exited(process):
                launch.signal_group(process, signal.SIGKILL)

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def _acquire(self) -> Gpu | None:
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is shut down")
            return self.placement.acquire() if self.placement is not None else None

    def _release(self, gpu: Gpu | None) -> None:
        if gpu is not None and self.placement is not None:
            with self._lock:
                self.placement.release(gpu)

    def _started(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.add(process)
            closed = self._closed
        if closed:  # shut down while it started: it must not outlive the executor
            launch.signal_group(process, signal.SIGKILL)

    def _ended(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(process)


class _ScriptRun:
    """One script trial, from its launch to its record; lives in the thread that called `run`."""

    def __init__(self, executor: ScriptExecutor, store: Store, trial_id: int, config: Config,
                 cancel: threading.Event, sink: Sink, judge: Judge | None, threads: int | None,
                 gpu: Gpu | None) -> None:
        self.executor, self.store, self.trial_id, self.config = executor, store, trial_id, config
        self.cancel, self.sink, self.judge, self.threads, self.gpu = cancel, sink, judge, threads, gpu
        self.began = time.monotonic()
        self.folder = store.artifacts / str(trial_id)
        self.stop: tuple[TrialState, str] | None = None
        self.stop_at = self.term_at = self.kill_at = 0.0
        self.held = True  # the row names this process: the script has not taken the trial
        self.lines = MetricLines()
        self.book = Logbook()
        self.held_back: list[LineEpoch] = []
        self.stdout: queue.SimpleQueue[tuple[float, str]] = queue.SimpleQueue()  # (when read, line)
        self.tail = StderrTail()
        self.last_beat = self.epoch_began = self.began
        self.pid = 0

    # --- start ------------------------------------------------------------------------------------

    def run(self) -> TrialFinished:
        cwd = Path.cwd()
        try:
            line = launch.command(self.config, cwd)
        except ConfigError as exc:
            return self._record(TrialState.FAILED, f"the script was not started: {exc}", None, unstarted=True)
        if self.cancel.is_set():
            state, reason = self._cancel_request()
            return self._record(state, reason, None, unstarted=True)
        handoff = Handoff(str(self.store.path.resolve()), self.trial_id, self.config.to_dict()).write(self.folder)
        env = launch.environment(handoff, self.store.path.resolve(), threads=self.threads,
                                 placed=Placement.env_for(self.gpu) if self.gpu else {}, extra=self.executor.env,
                                 thread_var=THREAD_CAP_VAR)
        try:
            self.store.take_trial(self.trial_id, {"pid": os.getpid(), "python": line[0], "cwd": str(cwd),
                                                  "cuda_visible_devices": env.get("CUDA_VISIBLE_DEVICES"),
                                                  "code": file_record(line[1])},
                                  {"script": line[1], "argv": line[2:], "threads": self.threads})
        except StoreError:
            row = self.store.trial(self.trial_id)
            if not row.state.is_finished:
                raise
            return self._as_recorded(row)  # ended before it started (cancelled while it waited)
        try:
            process = launch.start(line, cwd, env)
        except OSError as exc:
            return self._record(TrialState.FAILED, f"task.python: cannot start {line[0]!r}: {exc.strerror or exc}",
                                None)
        self.pid = process.pid
        self.executor._started(process)
        try:
            return self._supervise(process)
        finally:
            self.executor._ended(process)

    def _supervise(self, process: subprocess.Popen[bytes]) -> TrialFinished:
        assert process.stdout is not None and process.stderr is not None
        pumps = [pump(process.stdout, self.folder / "stdout.log",
                      lambda line: self.stdout.put((time.monotonic(), line))),
                 pump(process.stderr, self.folder / "stderr.log", self.tail.add)]
        follower = MetricEvents(self.store, self.trial_id)
        try:
            while not launch.exited(process):
                self._step(process, follower)
                time.sleep(self.executor.poll)
        except BaseException as exc:  # a second Ctrl+C in the foreground, the store broke: the script must not live on
            code = launch.reap(process)
            if self.stop is None and isinstance(exc, KeyboardInterrupt):
                self.stop = (TrialState.CANCELLED, "stopped at once by a second Ctrl+C")
            with contextlib.suppress(Exception):
                self._end(code, follower, pumps)
            raise
        return self._end(launch.reap(process), follower, pumps)

    # --- while it runs ------------------------------------------------------------------------------

    def _step(self, process: subprocess.Popen[bytes], follower: MetricEvents) -> None:
        now = time.monotonic()
        row = self.store.trial(self.trial_id)
        self.held = self.held and row.pid == os.getpid()
        self._read_stdout(now)
        self._deliver(follower.poll(now), running=True)
        if self.stop is None and self.cancel.is_set():
            self._ask_stop(*self._cancel_request())
        if self.stop is None and row.stop_request:  # asked through the store by someone else
            self.stop, self.stop_at = requested_stop(row.stop_request), now
        self._escalate(process, now)
        if self.held and now - self.last_beat >= HEARTBEAT_SECONDS:
            self.store.beat(self.trial_id)
            self.last_beat = now

    def _cancel_request(self) -> tuple[TrialState, str]:
        if isinstance(self.cancel, StopSignal):
            return self.cancel.state, self.cancel.reason or f"{self.cancel.state.value}: stopped with tunedeck"
        return TrialState.CANCELLED, "cancelled: stopped with tunedeck"

    def _ask_stop(self, state: TrialState, reason: str) -> None:
        self.stop, self.stop_at = (state, reason), time.monotonic()
        self.store.request_stop(self.trial_id, state.value, reason)

    def _escalate(self, process: subprocess.Popen[bytes], now: float) -> None:
        """SIGTERM once the script had its notice (none when it cannot read the request), SIGKILL after the grace."""
        if self.stop is None:
            return
        notice = 0.0 if self.held else self.executor.notice
        if not self.term_at and now - self.stop_at >= notice:
            launch.signal_group(process, signal.SIGTERM)
            self.term_at = now
        elif self.term_at and not self.kill_at and now - self.term_at >= self.config.task.stop_grace:
            launch.signal_group(process, signal.SIGKILL)
            self.kill_at = now

    def _read_stdout(self, now: float) -> None:
        done: list[LineEpoch] = []
        while True:
            try:
                when, text = self.stdout.get_nowait()
            except queue.Empty:
                break
            done += self.lines.feed(text, when)
        self._keep(done + self.lines.due(now), now)

    def _keep(self, epochs: list[LineEpoch], now: float, *, final: bool = False) -> None:
        """Record epochs read from stdout, unless the script records its trial itself."""
        if not self.held:
            self.held_back = []
            return
        self.held_back += epochs
        if not self.held_back or (now - self.began < self.executor.hold and not final):
            return
        for epoch in self.held_back:
            values = dict(epoch.values)
            if epoch.epoch != self.book.epoch and epoch.epoch > 0:  # timed as printed, not as recorded
                values.setdefault("epoch_seconds", max(0.0, epoch.last_line - self.epoch_began))
                self.epoch_began = epoch.last_line
            try:
                diverged = self.book.add(epoch.epoch, epoch.step, values)
            except LogError:  # an epoch number that goes back, say: the line is output only
                continue
            if diverged is not None and self.stop is None:
                self._ask_stop(TrialState.DIVERGED, diverged.reason)
        self.held_back = []
        rows, progress = self.book.take()
        if rows:
            self.store.log_script(self.trial_id, rows, progress)
            self.last_beat = now

    def _deliver(self, events: list[Event], *, running: bool) -> None:
        """Hand events on and show the judge each epoch: epochs that arrive once the script has exited too,
        so that the pruner knows the whole curve of a trial that completed; only a running one is pruned."""
        if not events:
            return
        self.sink(self.trial_id, events)
        if self.judge is None:
            return
        for event in events:
            if isinstance(event, EpochEnded) and self.stop is None and not self.cancel.is_set():
                reason = ask_judge(self.judge, self.trial_id, event)
                if reason and running:
                    self._ask_stop(TrialState.PRUNED, reason)

    # --- the end ------------------------------------------------------------------------------------

    def _end(self, code: int, follower: MetricEvents, pumps: list[threading.Thread]) -> TrialFinished:
        for thread in pumps:
            thread.join(PIPE_WAIT)
        now = time.monotonic()
        row = self.store.trial(self.trial_id)
        self.held = self.held and row.pid == os.getpid()
        self._read_stdout(now)
        self._keep(self.lines.close(), now, final=True)
        self._deliver(follower.poll(now) + follower.flush(), running=False)
        row = self.store.trial(self.trial_id)
        if row.state.is_finished:  # the script recorded its end itself
            return self._as_recorded(row)
        state, reason, error = self._outcome(code, row)
        return self._record(state, reason, error, row=row)

    def _as_recorded(self, row: TrialRecord) -> TrialFinished:
        finished = TrialFinished(row.state, row.reason or "", Summary.of(row), time.monotonic() - self.began, row.error)
        self.sink(self.trial_id, [finished])
        return finished

    def _outcome(self, code: int, row: TrialRecord) -> tuple[TrialState, str, str | None]:
        """How the trial ended, from the exit status: (state, reason, error)."""
        who = f"the script (pid {self.pid})"
        how = how_it_ended(code)
        tail = self.tail.text() or None
        if self.stop is None and self.executor.closed:  # shut down under it (tunedeck quit): not the script's fault
            self.stop = (TrialState.CANCELLED, "stopped: tunedeck shut its script executor down")
        if self.stop is not None:
            state, reason = self.stop
            if code != 0:
                reason += f" ({who} {how}{self._sent(code)})"
            return state, reason, None
        if code == 0:
            return TrialState.COMPLETED, f"{who} exited with code 0 after {_epochs(row.epochs_run)}", None
        if code < 0 and -code in KILLED_FROM_OUTSIDE:
            return (TrialState.INTERRUPTED, f"{who} {how} from outside tunedeck while the trial ran "
                    f"({_epochs(row.epochs_run)} recorded)", tail)
        last = tail.strip().splitlines()[-1].strip() if tail and tail.strip() else ""
        return TrialState.FAILED, f"{who} {how}" + (f": {last}" if last else ""), tail

    def _sent(self, code: int) -> str:
        if code == -signal.SIGKILL and self.kill_at:
            return f", {self.config.task.stop_grace:g} s (task.stop_grace) after SIGTERM"
        if code == -signal.SIGTERM and self.term_at:
            return ", as asked to stop"
        if code in (-signal.SIGTERM, -signal.SIGKILL) and self.executor.closed:
            return ", as tunedeck shut down"
        return ""

    def _record(self, state: TrialState, reason: str, error: str | None, *, row: TrialRecord | None = None,
                unstarted: bool = False) -> TrialFinished:
        seconds = 0.0 if unstarted else time.monotonic() - self.began
        summary = Summary.of(row) if row is not None else Summary.of(self.store.trial(self.trial_id))
        if self.book.tests:
            summary = dataclasses.replace(summary, test_loss=self.book.tests.get("test_loss", summary.test_loss),
                                          test_acc=self.book.tests.get("test_acc", summary.test_acc))
        if state is TrialState.PRUNED and not summary.epochs_run:
            state = TrialState.CANCELLED  # only a trial that ran an epoch can be judged
        finished = TrialFinished(state, reason, summary, seconds, error)
        self.store.record(self.trial_id, finished)
        self.sink(self.trial_id, [finished])
        return finished


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' if count != 1 else ''}"
