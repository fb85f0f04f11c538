"""Simulated GPU faults on fake nodes: what a GPU health agent and the NVIDIA device plugin report.

``python -m localcluster gpu-fault NODE`` writes, through the node's status subresource as
node-problem-detector or gpud would, the condition ``GpuUnhealthy=True``; ``--gpus N`` instead
lowers allocatable ``nvidia.com/gpu`` to N, as the NVIDIA device plugin does when a card fails.
``--clear`` sets the condition False and allocatable back to capacity.

The fault sticks: KWOK's node stages patch node status as a strategic merge patch, which merges
conditions by type and leaves a condition they do not name alone, and node-initialize copies
allocatable as it is.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

CONDITION = "GpuUnhealthy"
GPU_RESOURCE = "nvidia.com/gpu"


def fault_patch(node: dict[str, Any], *, healthy_gpus: int | None, clear: bool, now: str) -> dict[str, Any]:
    """The status patch for ``node``: the condition, or with ``healthy_gpus`` fewer allocatable GPUs;
    with ``clear``, both healthy again."""
    status = node.get("status") or {}
    capacity = int((status.get("capacity") or {}).get(GPU_RESOURCE, "0"))
    previous = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), {})
    state = "False" if clear else "True"
    # A transition keeps its time while the status stays the same, as an agent's would.
    since = previous.get("lastTransitionTime", now) if previous.get("status") == state else now
    condition = {
        "type": CONDITION,
        "status": state,
        "reason": "GpuHealthy" if clear else "SimulatedGpuFault",
        "message": "simulated GPU fault cleared" if clear else "simulated GPU fault (localcluster gpu-fault)",
        "lastHeartbeatTime": now,
        "lastTransitionTime": since,
    }
    if clear:
        return {"status": {"conditions": [condition], "allocatable": {GPU_RESOURCE: str(capacity)}}}
    if healthy_gpus is None:
        return {"status": {"conditions": [condition]}}
    if not 0 <= healthy_gpus <= capacity:
        raise ValueError(f"--gpus {healthy_gpus}: the node has {capacity} GPUs")
    return {"status": {"allocatable": {GPU_RESOURCE: str(healthy_gpus)}}}


def gpu_fault(
    kubectl: Callable[..., str], node: str, *, healthy_gpus: int | None = None, clear: bool = False
) -> dict[str, Any]:
    """Mark ``node``'s GPUs unhealthy (or healthy again with ``clear``); returns the patch sent."""
    body = json.loads(kubectl("get", "node", node, "-o", "json"))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = fault_patch(body, healthy_gpus=healthy_gpus, clear=clear, now=now)
    kubectl("patch", "node", node, "--subresource=status", "--type=strategic", "-p", json.dumps(patch))
    return patch
