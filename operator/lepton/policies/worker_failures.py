"""Which workers of the current attempt failed or were lost, and why: the input of the restart
policy (policies.restart). Exits, lost nodes, GPU faults (policies.gpu_health), deletions and
workers missing altogether each become a WorkerFailure; the state machine (policies.lifecycle)
then asks restart.decide what to do about them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lepton.policies.elastic import missing
from lepton.policies.gpu_health import Faults
from lepton.policies.restart import WorkerFailure
from lepton.policies.status import PodState


def classify(
    current: Sequence[PodState], *, lost_nodes: frozenset[str], faults: Faults, expected: int | None
) -> list[WorkerFailure]:
    """The failures among ``current`` (the attempt's pods); ``expected``: how many workers ran in this
    attempt, so that one missing was deleted behind our back (None: missing ones are not failures)."""
    failures: list[WorkerFailure] = []
    for pod in current:
        on_lost_node = pod.node is not None and pod.node in lost_nodes
        fault = faults.of(pod)
        if pod.phase == "Failed":
            failures.append(
                WorkerFailure(
                    pod.index,
                    pod.exit_code,
                    pod.disruption or pod.reason or "Error",
                    on_lost_node,
                    pod.finished_at,
                    pod=pod.name,
                    node=pod.node,
                    fault=fault,
                )
            )
        elif pod.phase != "Succeeded" and on_lost_node:
            failures.append(
                WorkerFailure(pod.index, None, f"node {pod.node} NotReady", True, pod=pod.name, node=pod.node)
            )
        elif (lost := faults.lost(pod)) is not None:
            reason = f"node {pod.node} GPU unhealthy"
            failures.append(WorkerFailure(pod.index, None, reason, pod=pod.name, node=pod.node, fault=lost))
        elif pod.deleting and pod.phase != "Succeeded" and not pod.unplaceable:  # unpinned: lifecycle
            reason = pod.disruption or pod.reason or "Deleted"
            failures.append(WorkerFailure(pod.index, None, reason, pod=pod.name, node=pod.node, fault=fault))
    if expected is not None:
        seen = {p.index for p in current}
        failures.extend(WorkerFailure(i, None, "Deleted") for i in missing(seen, expected))
    return failures


def running(current: Iterable[PodState], *, lost_nodes: frozenset[str], faults: Faults) -> int:
    """Workers that run and will go on running: not on a lost node, not on faulty GPUs."""
    return sum(
        1
        for p in current
        if p.phase == "Running" and p.active and p.node not in lost_nodes and not faults.lost(p)
    )
