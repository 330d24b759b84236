"""The nodes of a Ray cluster, when this process is connected to one (or is asked to connect).

Ray is an optional extra: without it, or without a cluster, there are simply no nodes. Importing
Ray costs a second or more, so a process that has not imported it is not connected and is not made
to import it unless the caller asks to connect (`tunedeck devices --ray`, to RAY_ADDRESS).
"""
from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from engine.devices.trial_gpu import MIB
from engine.errors import safe_text


@dataclass(frozen=True)
class NodeStatus:
    node_id: str
    alive: bool
    address: str
    hostname: str
    cpus: float
    gpus: float
    memory_mb: int
    trials: tuple[int, ...] = ()  # the store's running trials recorded on this host


def ray_nodes(connect: bool = False) -> tuple[list[NodeStatus], str | None]:
    """Every node of the cluster this process is connected to; with `connect`, first connect to the one
    RAY_ADDRESS names. None for the reason when there is simply no cluster; a line when one was asked
    for and could not be reached."""
    address = os.environ.get("RAY_ADDRESS")
    if "ray" not in sys.modules and not connect:
        return [], None
    try:
        import ray
    except ImportError:
        return [], ("Ray is not installed (pip install \"tunedeck[ray]\")" if connect else None)
    if not ray.is_initialized():
        if not connect:
            return [], None
        if not address:
            return [], "no Ray cluster to show: RAY_ADDRESS is not set"
        unreachable = _unreachable(address)
        if unreachable:
            return [], f"cannot reach the Ray cluster at RAY_ADDRESS={safe_text(address, 100)}: {unreachable}"
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError and its own errors alike
            return [], f"cannot reach the Ray cluster at RAY_ADDRESS={safe_text(address, 100)}: {safe_text(str(exc), 200)}"
    return [_node(n) for n in ray.nodes()], None


def _unreachable(address: str, timeout: float = 3.0) -> str | None:
    """Why nothing answers at a `host:port` address (ray.init waits minutes on one); None when something
    does, or for an address that is not host:port (`auto`, a ray:// client address without a port)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return None
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        return safe_text(str(exc) or type(exc).__name__, 200)
    return None


def _node(raw: dict[str, Any]) -> NodeStatus:
    resources = raw.get("Resources") or {}
    return NodeStatus(
        node_id=str(raw.get("NodeID", ""))[:12], alive=bool(raw.get("Alive")),
        address=str(raw.get("NodeManagerAddress", "")), hostname=str(raw.get("NodeManagerHostname", "")),
        cpus=float(resources.get("CPU", 0)), gpus=float(resources.get("GPU", 0)),
        memory_mb=int(float(resources.get("memory", 0)) // MIB),
    )
