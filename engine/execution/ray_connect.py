"""Reaching Ray: the cluster RAY_ADDRESS names, or a local runtime bound to 127.0.0.1 with its dashboard off.

Ray is an optional extra (`pip install "tunedeck[ray]"`): it is imported here and in the other ray_*
modules only, lazily, so that nothing else needs it. Ray talks a lot on stderr (its C++ core logs
every failed reconnect, on stderr, whatever the log level says), and a wrong address makes `ray.init`
retry for minutes: the address is tried with a plain TCP connection first (a one-line error in a few
seconds), `ray.init` gets a deadline, and what Ray's native code writes to stderr goes to a log file
of ours (`quiet_native_stderr`) while Python's own stderr stays the terminal.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from engine.errors import TunedeckError, safe_text

INSTALL_HINT = 'pip install "tunedeck[ray]"'
ADDRESS_VAR = "RAY_ADDRESS"
CONNECT_TIMEOUT_VAR = "TUNEDECK_RAY_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 60.0
PROBE_SECONDS = 5.0
LOCAL_IP = "127.0.0.1"
_KEEPER = threading.Event()  # set when this process leaves Ray: the thread that joined it may end then


class RayUnavailable(TunedeckError):
    """Ray is not installed, or the cluster cannot be reached: said in one line, exit status 2."""


def import_ray() -> Any:
    """The `ray` module, or a one-line error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable(f"--executor ray needs Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


def cluster_address(address: str | None = None) -> str | None:
    """The cluster to join: the one given, else RAY_ADDRESS (Ray's own convention); None starts a local runtime."""
    chosen = address if address is not None else os.environ.get(ADDRESS_VAR)
    return chosen.strip() or None if chosen is not None else None


def check_address(address: str) -> None:
    """Refuse an address that is not HOST:PORT, or where nothing listens, in a few seconds and one line
    (ray.init would retry for minutes, printing a warning each time). `auto` and `ray://` are Ray's to judge."""
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RayUnavailable(f"{ADDRESS_VAR}: must be HOST:PORT of a Ray head (`ray start --head` prints it), "
                             f"got {safe_text(address, 200)!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS):
            pass
    except OSError as exc:
        raise RayUnavailable(f"{ADDRESS_VAR}: no Ray head answers at {safe_text(address, 200)} "
                             f"({safe_text(exc.strerror or type(exc).__name__, 120)}); start one with "
                             "`ray start --head` or fix the address") from None


def check_reachable() -> None:
    """Ray is importable and the cluster RAY_ADDRESS names (if any) answers: one line and exit 2 otherwise,
    said before anything is stored or started (connect() says the same later, slower)."""
    import_ray()
    address = cluster_address()
    if address is not None:
        check_address(address)


def connect(address: str | None = None, *, num_cpus: int | None = None, temp_dir: str | None = None,
            timeout: float | None = None) -> bool:
    """Join the cluster at `address` (else RAY_ADDRESS), or start a local runtime on 127.0.0.1 without a
    dashboard; True when this call started or joined it (False: this process was connected already).

    Every failure is a RayUnavailable of one line; Ray's own traceback and log lines are not shown."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    target = cluster_address(address)
    if target is not None:
        check_address(target)
    limit = timeout if timeout is not None else _connect_timeout()
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR, "include_dashboard": False}
    if target is None:
        options.update(address="local", _node_ip_address=LOCAL_IP, num_cpus=num_cpus)
        if temp_dir is not None:
            options["_temp_dir"] = temp_dir
    else:
        options["address"] = target
    outcome: list[BaseException | None] = []
    answered = threading.Event()

    def init() -> None:
        try:
            ray.init(**options)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported below as one line
            outcome.append(exc)
        answered.set()
        if outcome[0] is None:
            # A local runtime's processes die with the *thread* that started them (Ray sets PR_SET_PDEATHSIG,
            # which Linux ties to the thread): this one lives as long as the connection.
            _KEEPER.wait()

    _KEEPER.clear()
    threading.Thread(target=init, daemon=True, name="tunedeck-ray").start()
    answered.wait(limit)
    where = f"the Ray cluster at {safe_text(target, 200)}" if target else "a local Ray runtime"
    if not outcome:
        raise RayUnavailable(f"could not connect to {where} within {limit:.0f} s (set {CONNECT_TIMEOUT_VAR} "
                             "to wait longer)")
    error = outcome[0]
    if error is not None:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RayUnavailable(f"could not connect to {where}: {safe_text(first, 300)}")
    return True


def _connect_timeout() -> float:
    try:
        value = float(os.environ.get(CONNECT_TIMEOUT_VAR, DEFAULT_CONNECT_TIMEOUT))
    except ValueError:
        return DEFAULT_CONNECT_TIMEOUT
    return value if value > 0 else DEFAULT_CONNECT_TIMEOUT


def quiet_native_stderr(log_path: Path) -> None:
    """Send what native code (Ray's C++ core) writes to file descriptor 2 into `log_path`, keeping Python's
    sys.stderr on the terminal: Ray logs every reconnect and every dead worker there, which would bury
    a CLI's own lines. Once per process; a stderr that is no real file (a test's capture) is left alone."""
    if getattr(quiet_native_stderr, "done", False):
        return
    try:
        sys.stderr.flush()
        keep = os.dup(2)
        target = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return
    os.dup2(target, 2)
    os.close(target)
    sys.stderr = os.fdopen(keep, "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                           errors="backslashreplace")
    quiet_native_stderr.done = True  # type: ignore[attr-defined]


def has_gpus() -> bool:
    """The cluster has at least one GPU (then each trial asks for `run.gpus_per_trial` of one)."""
    ray = import_ray()
    return float(ray.cluster_resources().get("GPU", 0.0)) > 0


def shutdown() -> None:
    """Leave the cluster (a local runtime that this process started stops with it)."""
    ray = import_ray()
    if ray.is_initialized():
        ray.shutdown()
    _KEEPER.set()
