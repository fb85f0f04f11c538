"""GPU faults: which nodes a GPU health agent calls unhealthy, and which worker losses are the
hardware's fault rather than the program's.

Health agents (node-problem-detector with a GPU plugin, gpud, Meta's GCM health checks) report a
problem as a node condition of their own type with status True; the NVIDIA device plugin reports a
failed GPU by taking it out of allocatable ``nvidia.com/gpu``. Both are read here:

- a node with a fault condition is **unhealthy**: no gang is admitted onto it, and workers running
  there are lost (their gang restarts elsewhere);
- a node whose allocatable GPUs dropped below its capacity is **degraded**: no gang is admitted onto
  it either (a node that lost one GPU often loses more, and a gang spans its GPUs over NVLink), but
  workers already running there are left alone: a worker on the GPU that failed exits by itself, and
  that exit is then blamed on the hardware.

A worker lost to a hardware fault never spends the job's restart budget (backoffLimit,
maxRestartsPerWorker), as a Kubernetes Job's podFailurePolicy ``Ignore`` on ``DisruptionTarget``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lepton.policies.status import PodState

# Condition types read as GPU faults unless the operator is configured otherwise
# (LEPTON_GPU_FAULT_CONDITIONS): the simulated cluster's hook and a generic name for a custom
# node-problem-detector plugin, then the GPU checks of Meta's GCM health checks under NPD.
DEFAULT_FAULT_CONDITIONS: tuple[str, ...] = (
    "GpuUnhealthy",
    "GcmXidErrorsProblem",
    "GcmSmiEccProblem",
    "GcmSmiDisconnectedProblem",
    "GcmDcgmiNvlinkStatusProblem",
    "GcmDcgmiDiagProblem",
)

# The pod condition Kubernetes sets before it deletes a pod for a disruption (a NoExecute taint,
# node-pressure eviction, the Eviction API, preemption, pod GC of an orphan).
DISRUPTION_TARGET = "DisruptionTarget"
# DisruptionTarget reasons that mean another workload took the pod's place, not a fault.
PREEMPTION_DISRUPTIONS = frozenset({"PreemptionByScheduler", "EvictionByEvictionAPI"})


@dataclass(frozen=True)
class NodeHealth:
    """What a node reports about its GPUs: its True conditions (type -> reason) and GPU counts."""

    name: str
    capacity_gpus: int = 0
    allocatable_gpus: int = 0
    conditions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeFault:
    why: str
    unhealthy: bool
    """True: workers there are lost. False (degraded): only kept out of new admissions."""


def node_fault(node: NodeHealth, fault_conditions: Iterable[str]) -> NodeFault | None:
    """The node's GPU fault, or None when it is healthy. A fault condition wins over fewer GPUs."""
    for kind in fault_conditions:
        if kind in node.conditions:
            reason = node.conditions[kind]
            return NodeFault(f"{kind}=True" + (f" ({reason})" if reason else ""), unhealthy=True)
    if 0 <= node.allocatable_gpus < node.capacity_gpus:
        why = f"allocatable nvidia.com/gpu {node.allocatable_gpus} < capacity {node.capacity_gpus}"
        return NodeFault(why, unhealthy=False)
    return None


def faulty_nodes(nodes: Iterable[NodeHealth], fault_conditions: Iterable[str]) -> dict[str, NodeFault]:
    kinds = tuple(fault_conditions)
    faults = {n.name: node_fault(n, kinds) for n in nodes}
    return {name: fault for name, fault in faults.items() if fault is not None}


@dataclass(frozen=True)
class Faults:
    """What the restart policy needs to tell a hardware fault from the program's own failure."""

    nodes: Mapping[str, NodeFault] = field(default_factory=dict)
    exit_codes: frozenset[int] = frozenset()
    """Exit codes that mean the hardware failed (LEPTON_HARDWARE_EXIT_CODES)."""

    def avoid(self) -> tuple[str, ...]:
        """Nodes new workers must not be placed on, sorted so the pods built are deterministic."""
        return tuple(sorted(self.nodes))

    def left_out(self, shown: int = 3) -> str:
        """What a waiting job's message adds: the nodes admission leaves out, and why."""
        names = self.avoid()
        listed = "; ".join(f"{name}: {self.nodes[name].why}" for name in names[:shown])
        more = f"; {len(names) - shown} more" if len(names) > shown else ""
        noun = "node" if len(names) == 1 else "nodes"
        return f"{len(names)} {noun} with faulty GPUs left out ({listed}{more})"

    def lost(self, pod: PodState) -> str | None:
        """Why a worker that has not finished is lost to its node's GPUs, or None."""
        fault = self.nodes.get(pod.node or "")
        if fault is None or not fault.unhealthy or pod.terminal:
            return None
        return f"node {pod.node} GPU unhealthy: {fault.why}"

    def of(self, pod: PodState) -> str | None:
        """Why a worker that failed or is going away failed because of the hardware, or None."""
        if pod.disruption is not None:
            return f"{DISRUPTION_TARGET}: {pod.disruption or 'no reason given'}"
        if pod.exit_code is not None and pod.exit_code in self.exit_codes:
            return f"exit code {pod.exit_code} is a hardware fault"
        fault = self.nodes.get(pod.node or "")
        if fault is not None:
            return f"node {pod.node}: {fault.why}"
        return None


NO_FAULTS = Faults()
