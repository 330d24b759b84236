"""The Ray executor: trials train on the nodes of a Ray cluster, in warm actors, and the head records them.

`--executor ray` (run, sweep, the cockpit's supervisor) and `executor = "ray"` in `[search]` choose it.
It joins the cluster RAY_ADDRESS names, or starts a local runtime on 127.0.0.1 (engine.execution.ray_connect).
Each trial slot is one warm actor (engine.execution.ray_actor) holding one CPU, and `run.gpus_per_trial`
GPUs where the cluster has any (fractions pack small trials onto one GPU); Ray places the actors and
sets their CUDA_VISIBLE_DEVICES. The head keeps everything stateful: the store (the only writer: SQLite
cannot be shared between hosts), Optuna's ask/tell, the judge that prunes, and the checkpoint files,
which the actor sends back and the head writes beside its store (so they can always be read to resume).
Trials record through the same TrialRun as everywhere else; its `source` hook is where the events come
from the actor, its `claim` stores the environment the actor reports (host, versions, node, GPUs).

Faults are never retried silently (`max_restarts=0`, `max_task_retries=0`): an actor or node that dies
mid-trial ends that trial `interrupted`, with a reason that says where it ran and whether it can go on
from a checkpoint; the actor is dropped, a replacement starts, and the sweep goes on.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.config.groups import Config
from engine.errors import TunedeckError
from engine.events import Event, StopSignal, Summary, TrialFinished, TrialStarted
from engine.execution.executors import Judge, Sink, _ended_before_start, run_in_this_thread
from engine.execution.ray_actor import RAY_ENV_KEY, TrainerActor
from engine.execution.ray_connect import connect, has_gpus, import_ray, shutdown
from engine.states import TrialState

POLL_SECONDS = 0.1  # how soon a cancel reaches the actor while the head waits for its next batch
START_TRIES = 3  # actors in a row that die before they are ready (no tunedeck on a node?) stop the executor
ACTOR_CONCURRENCY = 4  # run, plus cancel and verdict arriving while it trains


class RayExecutorError(TunedeckError):
    """No actor could be started for a trial (the cluster lacks the resources, or tunedeck on a node)."""


class _Trainer:
    """One warm actor and what it said about itself."""

    def __init__(self, handle: Any, share: float) -> None:
        self.handle = handle
        self.share = share  # the GPUs it holds (0 on a CPU cluster)
        self.ready_ref = handle.where.remote()
        self.where: dict[str, Any] = {}
        self.alive = True


class RayExecutor:
    """Trains each trial in a warm Ray actor; idle actors wait for the next trial.

    `address`: the cluster (default RAY_ADDRESS, else a local runtime); `gpus_per_trial`: the default GPU
    share of a trainer before any trial says (each trial's `run.gpus_per_trial` decides for it).
    """

    def __init__(self, *, address: str | None = None, gpus_per_trial: float = 1.0, num_cpus: int | None = None,
                 temp_dir: str | None = None) -> None:
        self._address = address
        self._default_share = gpus_per_trial
        self._num_cpus = num_cpus
        self._temp_dir = temp_dir
        self._cond = threading.Condition()
        self._idle: list[_Trainer] = []
        self._trainers: list[_Trainer] = []
        self._closed = False
        self._tokens = itertools.count(1)
        self._started_ray = False
        self._gpus: bool | None = None
        self._remote: Any = None
        self._waiting: dict[float, int] = {}  # trials waiting for an actor, by GPU share
        self._failures = 0  # actors in a row that died before they were ready
        self._last_failure = ""

    def connect(self) -> None:
        """Join or start Ray now (the CLI calls this first, so that a bad address is said before any trial)."""
        with self._cond:
            if self._remote is not None:
                return
            self._started_ray = connect(self._address, num_cpus=self._num_cpus, temp_dir=self._temp_dir)
            ray = import_ray()
            self._gpus = has_gpus()
            self._remote = ray.remote(max_restarts=0, max_task_retries=0,
                                      max_concurrency=ACTOR_CONCURRENCY)(TrainerActor)

    # --- trainers --------------------------------------------------------------------------------

    def _share(self, config: Config | None) -> float:
        """The GPUs a trial's actor holds: none on a CPU cluster or for a trial pinned to the CPU."""
        if not self._gpus or (config is not None and config.run.device == "cpu"):
            return 0.0
        share = getattr(config.run, "gpus_per_trial", self._default_share) if config else self._default_share
        return float(share)

    def _start(self, share: float) -> _Trainer:
        """Called with the lock held: a new actor, one CPU and `share` GPUs; Ray places it."""
        options: dict[str, Any] = {"num_cpus": 1}
        if share > 0:
            options["num_gpus"] = share
        trainer = _Trainer(self._remote.options(**options).remote(), share)
        self._trainers.append(trainer)
        return trainer

    def prewarm(self, count: int = 1, *, wait: float = 0.0) -> None:
        """Have `count` actors idle or starting (they import torch on their nodes); `wait`: block until ready."""
        self.connect()
        with self._cond:
            started = [self._start(self._share(None)) for _ in range(count - len(self._idle))] if not self._closed else []
            self._idle.extend(started)
        if wait > 0 and started:
            import_ray().wait([t.ready_ref for t in started], num_returns=len(started), timeout=wait)
            self._settle(started)

    def _take(self, config: Config, cancel: threading.Event) -> _Trainer | None:
        """The first actor of the trial's GPU share that is ready (the one that ran last, if several are); an
        actor is started whenever more trials wait than actors start (an idle one of another share is
        retired: its resources may be what the new one needs). None: the trial was cancelled first.

        A trial never waits on one particular actor: after a node died, a replacement may stay pending
        for want of resources while an actor elsewhere comes free, and the trial takes that one."""
        self.connect()
        share = self._share(config)
        with self._cond:
            self._waiting[share] = self._waiting.get(share, 0) + 1
        try:
            while True:
                with self._cond:
                    if self._closed:
                        raise RuntimeError("executor is shut down")
                    for trainer in reversed(self._idle):  # the one that ran last: its caches are warmest
                        if trainer.where and trainer.share == share:
                            self._idle.remove(trainer)
                            return trainer
                    if cancel.is_set():
                        return None
                    if self._failures >= START_TRIES:
                        raise RayExecutorError(f"{START_TRIES} Ray actors in a row died before their first trial "
                                               f"(the last: {self._last_failure}); check that every node has "
                                               "tunedeck installed at the head's version")
                    starting = [t for t in self._idle if not t.where]
                    if sum(t.share == share for t in starting) < self._waiting[share]:
                        other = next((t for t in self._idle if t.where and t.share != share), None)
                        if other is not None:
                            self._idle.remove(other)
                            self._retire(other)
                        starting.append(self._start(share))
                        self._idle.append(starting[-1])
                self._settle(starting)
        finally:
            with self._cond:
                self._waiting[share] -= 1

    def _settle(self, starting: list[_Trainer]) -> None:
        """Wait up to POLL_SECONDS for starting actors; note where the ready ones run, drop the dead ones."""
        ray = import_ray()
        if not starting:
            with self._cond:
                self._cond.wait(POLL_SECONDS)
            return
        done, _ = ray.wait([t.ready_ref for t in starting], num_returns=len(starting), timeout=POLL_SECONDS)
        for trainer in starting:
            if trainer.ready_ref not in done or trainer.where or not trainer.alive:
                continue
            try:
                where = ray.get(trainer.ready_ref)
            except ray.exceptions.RayError as exc:
                with self._cond:
                    self._failures += 1
                    self._last_failure = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
                self._retire(trainer)
                continue
            with self._cond:
                trainer.where = where
                self._failures = 0
                self._cond.notify_all()

    def _give_back(self, trainer: _Trainer, healthy: bool) -> None:
        with self._cond:
            if healthy and trainer.alive and not self._closed:
                self._idle.append(trainer)
                self._cond.notify_all()
                return
        self._retire(trainer)

    def _retire(self, trainer: _Trainer) -> None:
        trainer.alive = False
        with self._cond:
            if trainer in self._trainers:
                self._trainers.remove(trainer)
            if trainer in self._idle:
                self._idle.remove(trainer)
        try:
            import_ray().kill(trainer.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone with its node
            pass

    def _replace(self, trainer: _Trainer) -> None:
        """A dead actor is dropped and a new one starts at once, so the next trial finds it warm."""
        self._retire(trainer)
        with self._cond:
            if not self._closed:
                self._idle.append(self._start(trainer.share))

    @property
    def placements(self) -> dict[str, dict[str, Any]]:
        """Each live actor's id and where it runs (node, IP, GPUs), for whoever shows the cluster."""
        with self._cond:
            return {t.where["actor_id"]: dict(t.where) for t in self._trainers if t.where and t.alive}

    # --- a trial ---------------------------------------------------------------------------------

    def run(self, store_path: Path, trial_id: int, config: Config, cancel: threading.Event,
            sink: Sink, *, judge: Judge | None = None, threads: int | None = None) -> TrialFinished:
        """`threads` is the head's share of its own cores, which says nothing of a node's: an actor uses
        the CPUs Ray gave it."""
        trainer = self._take(config, cancel)
        if trainer is None:
            return _ended_before_start(store_path, trial_id, cancel, sink)
        remote = _RemoteTrial(trainer, f"{os.getpid()}-{next(self._tokens)}", judge is not None)
        try:
            return run_in_this_thread(store_path, trial_id, config, cancel, lambda batch: sink(trial_id, batch),
                                      judge, source=remote.events, claim=remote.claim)
        finally:
            if remote.lost or not remote.done:  # dead, or left training with nobody listening: never reused
                self._replace(trainer)
            else:
                self._give_back(trainer, healthy=not remote.plugin)

    def shutdown(self) -> None:
        """Kill every actor; leave Ray (a local runtime started here stops)."""
        with self._cond:
            self._closed = True
            trainers, self._trainers, self._idle = list(self._trainers), [], []
            self._cond.notify_all()
        for trainer in trainers:
            self._retire(trainer)
        if self._started_ray:
            shutdown()


class _RemoteTrial:
    """One trial on one actor: the TrialRun `source` (events from the actor; checkpoints written on the
    head; cancels and verdicts sent back) and its `claim` (the environment the actor reported)."""

    def __init__(self, trainer: _Trainer, token: str, judged: bool) -> None:
        self.trainer = trainer
        self.token = token
        self.judged = judged
        self.env: dict[str, Any] = {RAY_ENV_KEY: dict(trainer.where)}
        self.lost = False  # the actor or its node died under the trial
        self.done = False  # the actor's stream ended: it is free for the next trial
        self.plugin = False
        self._run: Any = None

    def claim(self, event: TrialStarted, env: dict[str, Any]) -> None:
        self._run.store.start_trial(self._run.trial_id, event, self.env)

    def events(self, run: Any, resume: dict[str, Any] | None) -> Iterator[Event]:
        ray = import_ray()
        self._run = run
        started = time.monotonic()
        actor = self.trainer.handle
        write = run.checkpoint_writer()
        stream = actor.run.options(num_returns="streaming").remote(
            self.token, run.config.to_dict(), os.getcwd(), self.judged, None, resume)
        stop_sent = False
        answer = False
        while True:
            stop = _stop_of(run.cancel)
            if answer:  # the judge has seen the epoch the actor waits on: pruned or not, it is told now
                actor.verdict.remote(self.token, *(stop or (None, None)))
                stop_sent, answer = stop is not None, False
            elif stop is not None and not stop_sent:
                actor.cancel.remote(self.token, *stop)
                stop_sent = True
            try:
                ready, _ = ray.wait([stream], timeout=POLL_SECONDS)
                if not ready:
                    continue
                message = ray.get(next(stream))
            except StopIteration:
                self.done = True
                return
            except ray.exceptions.RayTaskError as exc:  # the actor's own code raised: a failure, not a lost node
                self.lost = True
                yield self._failed(run, exc, time.monotonic() - started)
                return
            except ray.exceptions.RayError as exc:
                self.lost = True
                yield self._interrupted(run, exc, time.monotonic() - started)
                return
            for kind, payload, epoch in message["checkpoints"]:
                if write is not None:
                    write(kind, payload, epoch)
            if message["env"] is not None:
                self.env = message["env"]
            if message.get("run_info"):
                run.store.note_run_info(run.trial_id, message["run_info"])
            self.plugin = bool(message.get("plugin", self.plugin))
            answer = bool(message["judge"])
            yield from message["events"]

    def _node(self) -> str:
        where = self.trainer.where
        return f"node {where.get('node_ip', '?')} ({str(where.get('node_id', '?'))[:12]}), pid {where.get('pid', '?')}"

    def _interrupted(self, run: Any, exc: BaseException, seconds: float) -> TrialFinished:
        """The actor or its node died: the trial ends interrupted, and says where and how it can go on."""
        lasts = run.store.checkpoints(run.trial_id, "last")
        mode = run.config.run.checkpoint
        if lasts:
            after = (f"it can resume from its checkpoint of epoch {lasts[0].epoch}, kept beside the store on the "
                     f"head (`tunedeck resume {run.trial_id}`; a resumed sweep resumes it)")
        else:
            why = (f"run.checkpoint is {mode}, which keeps none to resume from" if mode not in ("last", "both")
                   else "none was written before it died")
            after = f"it has no checkpoint to resume from ({why}): run again, it starts over"
        reason = f"its Ray worker on {self._node()} was lost while the trial ran ({type(exc).__name__}); {after}"
        return TrialFinished(TrialState.INTERRUPTED, reason, Summary.of(run.store.trial(run.trial_id)), seconds)

    def _failed(self, run: Any, exc: BaseException, seconds: float) -> TrialFinished:
        cause = getattr(exc, "cause", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[-1][:300]
        reason = f"its Ray actor on {self._node()} failed: {type(cause).__name__}: {first}"
        return TrialFinished(TrialState.FAILED, reason, Summary.of(run.store.trial(run.trial_id)), seconds,
                             error=str(exc))


def _stop_of(cancel: threading.Event) -> tuple[str, str | None] | None:
    """How a set stop signal wants the trial recorded, as the actor is told it; None while it is not set."""
    if not cancel.is_set():
        return None
    if isinstance(cancel, StopSignal):
        return cancel.state.value, cancel.reason
    return TrialState.CANCELLED.value, None
