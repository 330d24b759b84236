"""The Ray nodes of the device snapshot: a real local Ray runtime (skipped where ray is not installed),
Ray missing, and a cluster address where nothing answers. No node is faked."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.devices.cluster import ray_nodes


def test_no_ray_no_nodes_and_no_complaint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as where the extra is not installed
    assert ray_nodes() == ([], None)
    nodes, problem = ray_nodes(connect=True)
    assert nodes == [] and problem is not None and "Ray is not installed" in problem


def test_connect_without_an_address_or_to_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_nodes(connect=True) == ([], "no Ray cluster to show: RAY_ADDRESS is not set")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    nodes, problem = ray_nodes(connect=True)
    assert nodes == [] and problem is not None
    assert problem.startswith(f"cannot reach the Ray cluster at RAY_ADDRESS=127.0.0.1:{port}: ")


# Run in a child process: a Ray runtime started and shut down inside the test process leaves Ray's
# process-wide state behind, and the Ray executor's tests, later in the same process, then saw their
# actors die before their first trial.
_LISTED = """
import json, ray
from engine.devices import snapshot_lines, take_snapshot
from engine.devices.cluster import ray_nodes
ray.init(num_cpus=1, num_gpus=0, include_dashboard=False, _node_ip_address="127.0.0.1",
         logging_level="ERROR", log_to_driver=False)
try:
    nodes, problem = ray_nodes()  # connected already: listed without being asked to connect
    lines = snapshot_lines(take_snapshot())
finally:
    ray.shutdown()
print(json.dumps({"problem": problem, "nodes": [vars(n) for n in nodes], "lines": lines}))
"""


def test_a_local_ray_runtime_is_listed(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-c", _LISTED], capture_output=True, text=True, timeout=180, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["problem"] is None and len(out["nodes"]) == 1
    node = out["nodes"][0]
    assert node["alive"] and node["cpus"] == 1 and node["gpus"] == 0 and node["memory_mb"] > 0 and node["address"]
    assert "Ray cluster: 1 node, 1 alive" in out["lines"]
    assert any(line.startswith(f"  node {node['node_id']} ") and "1 CPUs, 0 GPUs" in line for line in out["lines"])
