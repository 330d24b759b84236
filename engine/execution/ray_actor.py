"""The trainer that runs on a Ray node: a warm actor that trains the trials the head sends, one at a time.

It runs the same loop as the local trainers (`engine.training.loop.train`) and writes nothing: SQLite
cannot be shared between hosts, so the head (the supervisor, or the CLI's process) is the only writer
of the store. Its events go back in batches through a streaming generator (`run`), at most every
FLUSH_SECONDS and at once when the trial ends; a checkpoint payload is copied to the CPU the moment the
loop hands it over (the loop goes on changing the tensors) and travels with the next batch,
so the head writes it beside its store, where it can always read it. After each judged epoch the actor
waits for the head's verdict (`verdict`), so a pruned trial stops exactly where it was judged; `cancel`
stops the running trial within a batch. The actor is threaded (`max_concurrency`), so that those two
calls arrive while `run` trains.

Imported on the nodes by Ray (tunedeck must be installed there, at the same version as on the head);
`ray` itself is imported only inside the methods, so that the head imports this module without it.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from engine.config.groups import Config
from engine.events import EpochEnded, Event, StopSignal, TrialFinished, TrialStarted
from engine.execution.executors import FLUSH_SECONDS
from engine.states import TrialState
from engine.training import THREAD_CAP_VAR

RAY_ENV_KEY = "ray"  # the trial's env holds where it ran under this key: node id and IP, GPU ids, actor id


class TrainerActor:
    """Made a Ray actor by engine.execution.ray_executor (`ray.remote(...)(TrainerActor)`)."""

    def __init__(self) -> None:
        from engine.execution.trainer_child import _warm_up

        _warm_up()  # `import torch` and torch._dynamo once per actor, before its first trial
        self._cancel = StopSignal()
        self._verdicts: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._early: dict[str, tuple[str, str | None]] = {}  # cancels that arrived before their run started

    def where(self) -> dict[str, Any]:
        """The node, process and GPUs this actor holds: stored with each trial it trains."""
        import socket

        import ray

        ctx = ray.get_runtime_context()
        return {"node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
                "hostname": socket.gethostname(), "pid": os.getpid(), "actor_id": ctx.get_actor_id(),
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}

    def cancel(self, token: str, state: str, reason: str | None) -> None:
        """Stop the run `token` within a batch (recorded in `state`); remembered if it has not started yet."""
        with self._lock:
            if self._token == token:
                self._cancel.stop(TrialState(state), reason)
            else:
                self._early[token] = (state, reason)

    def verdict(self, token: str, state: str | None, reason: str | None) -> None:
        """The head's answer after a judged epoch: go on (None) or stop in `state` (pruned) now."""
        with self._lock:
            if self._token != token:
                return
            if state is not None:
                self._cancel.stop(TrialState(state), reason)
        self._verdicts.put(token)

    def run(self, token: str, config_data: dict[str, Any], cwd: str, judged: bool, threads: int | None,
            resume: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
        """Train one trial; yields messages {events, checkpoints, env, judge, run_info, plugin}."""
        from engine.training.checkpoint import Checkpointer
        from engine.training.device import gpu_facts, peak_memory_facts, reset_peak_memory
        from engine.training.environment import environment
        from engine.training.loop import train

        if os.getcwd() != cwd and os.path.isdir(cwd):
            os.chdir(cwd)  # data and plugins resolve as on the head: the same paths on every node
        os.environ[THREAD_CAP_VAR] = str(threads or _assigned_cpus())
        with self._lock:
            self._token = token
            self._cancel.clear()
            early = self._early.pop(token, None)
            if early is not None:
                self._cancel.stop(TrialState(early[0]), early[1])
        while not self._verdicts.empty():
            self._verdicts.get_nowait()
        config = Config.from_dict(config_data)
        written: list[tuple[str, Any, int]] = []
        run = config.run
        checkpointer = None
        if run.checkpoint != "none":
            checkpointer = Checkpointer(run.checkpoint, run.checkpoint_every,
                                        lambda kind, payload, epoch: written.append((kind, _on_cpu(payload), epoch)))
        pending: list[Event] = []
        env: dict[str, Any] | None = None
        device = ""
        last = time.monotonic()
        try:
            for event in train(config, self._cancel, checkpoints=checkpointer, resume=resume):
                pending.append(event)
                if isinstance(event, TrialStarted):
                    device = event.device
                    env = {**environment(device, config), **gpu_facts(device), RAY_ENV_KEY: self.where()}
                    reset_peak_memory(device)
                wait = judged and isinstance(event, EpochEnded) and not self._cancel.is_set()
                ended = isinstance(event, TrialFinished)
                now = time.monotonic()
                if not (ended or wait or env is not None or now - last >= FLUSH_SECONDS):
                    continue
                message: dict[str, Any] = {"events": pending, "checkpoints": written, "env": env, "judge": wait}
                if ended:
                    message["run_info"] = peak_memory_facts(device)
                    message["plugin"] = _imported_plugin_code()
                pending, written, env, last = [], [], None, now
                yield message
                if wait:
                    self._verdicts.get()  # the head answers every judged epoch; the actor dies with the head
        finally:
            with self._lock:
                self._token = None


def _on_cpu(payload: Any) -> Any:
    """A copy of a checkpoint payload taken now, its tensors on the CPU: the loop goes on changing the
    model's tensors before the payload travels, and the head may have no GPU to load CUDA tensors on.
    (A `ray.put` ref inside a yielded message was freed before the head could read it: Ray 2.60.)"""
    import torch

    if isinstance(payload, torch.Tensor):
        return payload.detach().to("cpu", copy=True)
    if isinstance(payload, dict):
        return {key: _on_cpu(value) for key, value in payload.items()}
    if isinstance(payload, (list, tuple)):
        return type(payload)(_on_cpu(value) for value in payload)
    return payload


def _assigned_cpus() -> int:
    """The CPUs Ray gave this actor: its torch threads (1 per trial unless the cluster says otherwise)."""
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    return max(1, int(cpus))


def _imported_plugin_code() -> bool:
    """Whether a trial imported the user's own code here: the head cannot hash files on this node, so
    such an actor is retired after the trial and the next one imports the code afresh."""
    try:
        from engine.tasks.plugin_code import LOADED

        return bool(LOADED.record())
    except Exception:  # noqa: BLE001 - unsure: retire it rather than risk old code
        return True
