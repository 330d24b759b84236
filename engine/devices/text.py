"""The snapshot as lines of plain text: what `tunedeck devices` prints and the cockpit's panel shows."""
from __future__ import annotations

import time

from engine.devices.cluster import NodeStatus
from engine.devices.host import HostStatus
from engine.devices.nvml import GpuStatus
from engine.devices.snapshot import Snapshot
from engine.devices.trial_gpu import MIB
from engine.errors import safe_text
from engine.tables.formatting import fmt_bytes


def snapshot_lines(snap: Snapshot) -> list[str]:
    lines = [f"{safe_text(snap.host.hostname)} at {time.strftime('%H:%M:%S', time.localtime(snap.taken_at))}",
             host_line(snap.host)]
    if snap.gpus:
        lines += [gpu_line(g) for g in snap.gpus]
    else:
        lines.append(f"no GPU: {snap.gpu_problem or 'none found'}")
    on_cpu = tuple(i for i, device in snap.off_gpu if device == "cpu")
    if on_cpu:
        lines.append(f"CPU: {_trials(on_cpu)}")
    unlisted = [(i, device) for i, device in snap.off_gpu if device != "cpu"]
    if unlisted:
        lines.append("trials here on no listed GPU: " + ", ".join(f"{i} ({safe_text(d, 20)})" for i, d in unlisted))
    if snap.nodes:
        alive = sum(n.alive for n in snap.nodes)
        lines.append(f"Ray cluster: {len(snap.nodes)} node{'s' if len(snap.nodes) != 1 else ''}, {alive} alive")
        lines += [node_line(n) for n in snap.nodes]
    elif snap.ray_problem:
        lines.append(f"Ray: {snap.ray_problem}")
    if snap.elsewhere:
        lines.append("trials on other hosts: " + ", ".join(f"{i} ({safe_text(h, 40)})" for i, h in snap.elsewhere))
    if snap.store_problem:
        lines.append(f"trials not shown: {snap.store_problem}")
    elif not snap.running:
        lines.append("no trial running")
    return lines


def host_line(h: HostStatus) -> str:
    load = "load " + " ".join(f"{x:.2f}" for x in h.load) if h.load is not None else "load unknown"
    if h.memory_total_mb is not None and h.memory_available_mb is not None:
        used = h.memory_total_mb - h.memory_available_mb
        memory = f"memory {_mib(used)} / {_mib(h.memory_total_mb)} used"
    else:
        memory = "memory unknown"
    return f"CPU: {h.cores} core{'s' if h.cores != 1 else ''}, {load}, {memory}"


def gpu_line(g: GpuStatus) -> str:
    if g.problem is not None:
        return f"GPU {g.index}: unreadable ({g.problem}); {_trials(g.trials)}"
    memory = (f"{_mib(g.memory_used_mb)} / {_mib(g.memory_total_mb)}"
              if g.memory_used_mb is not None and g.memory_total_mb is not None else "memory ?")
    power = f"{g.power_w:.0f} W" if g.power_w is not None else "? W"
    if g.power_limit_w is not None:
        power += f" / {g.power_limit_w:.0f} W"
    return (f"GPU {g.index} {safe_text(g.name, 40)}: {memory}, {_pct(g.utilisation)} busy, "
            f"{_unit(g.temperature, ' C')}, {power}; {_trials(g.trials)}")


def node_line(n: NodeStatus) -> str:
    state = "alive" if n.alive else "dead"
    return (f"  node {safe_text(n.node_id)} {safe_text(n.hostname, 40)} ({safe_text(n.address, 40)}) {state}: "
            f"{n.cpus:g} CPUs, {n.gpus:g} GPUs, {_mib(n.memory_mb)}; {_trials(n.trials)}")


def _trials(ids: tuple[int, ...]) -> str:
    if not ids:
        return "no trial"
    return ("trial " if len(ids) == 1 else "trials ") + ", ".join(str(i) for i in ids)


def _mib(mb: int) -> str:
    """A figure in MiB as people read it (`79.6 GiB`, `512.0 MiB`): fmt_bytes, the one way sizes are said."""
    return fmt_bytes(mb * MIB)


def _pct(value: int | None) -> str:
    return f"{value}%" if value is not None else "?%"


def _unit(value: int | None, unit: str) -> str:
    return f"{value}{unit}" if value is not None else f"?{unit}"
