"""Required node affinity on ``metadata.name``: keep a pod off named nodes, or on the one node
admission placed it on.

Off (``avoiding``): faulty GPUs, and the nodes held for a reservation. Why an affinity and not a
taint: the operator only reads nodes (no write access to them, so other workloads and the health
agent's own remediation are untouched), kube-scheduler and the gang schedulers Lepton supports
(Volcano, the coscheduler) honour required node affinity, and the rule travels with the pod, so a
worker created for a re-admitted gang cannot land on the faulty node even though the node still
looks Ready and has allocatable GPUs to the scheduler.

On (``pinning``): admission best-fits each gang onto the free GPUs (policies.placement): a 1-GPU
worker goes to the node with the fewest free GPUs that holds it, so whole nodes stay free for 8-GPU
gangs. Left alone, kube-scheduler's default scoring (LeastAllocated, BalancedAllocation) spreads
pods onto the emptiest node instead. A required ``metadata.name In [node]`` term also makes the
pod cheap to schedule: kube-scheduler's NodeAffinity PreFilter narrows the candidates to that one
node, where a preference (builders.prefer) has it filter and score a few hundred nodes of a large
cluster for every pod (measured: bench/README-trainingjob.md). Admission counts only GPUs, so a
pinned pod (annotated PINNED_ANNOTATION) that the node cannot take after all (its CPU or memory, a
pod bound there first) is deleted and made again unpinned (policies.lifecycle), and kube-scheduler
places it. Where a pin could go wrong for what admission does not see (``pinnable``), the worker
only prefers the node (builders.prefer).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

NAME_FIELD = "metadata.name"
PINNED_ANNOTATION = "lepton.ai/pinned-node"
"""On a worker the operator pinned: the node. A pin of the user's own template is not one of these."""


def avoiding(pod_spec: dict[str, Any], nodes: Sequence[str]) -> dict[str, Any]:
    """``pod_spec`` requiring a node not in ``nodes``. The API server allows one value per
    ``metadata.name`` field selector, hence one NotIn expression per node. ``nodes`` are taken as
    given (sorted by the caller)."""
    return requiring(pod_spec, [{"key": NAME_FIELD, "operator": "NotIn", "values": [n]} for n in nodes])


def pinning(pod_spec: dict[str, Any], node: str | None) -> dict[str, Any]:
    """``pod_spec`` requiring ``node``; None: unchanged."""
    return requiring(pod_spec, [{"key": NAME_FIELD, "operator": "In", "values": [node]}] if node else [])


def pinnable(template_spec: Mapping[str, Any]) -> bool:
    """Whether a worker of this template may be pinned. Not when it asks for what admission's
    placement does not model (required node affinity, pod affinity or anti-affinity, topology
    spread): its node could fail those for ever. Nor with a priority class: kube-scheduler would
    preempt lower-priority pods on the one node a pinned worker may take (whole gangs' workers
    among them) rather than bind it to another node with room; Lepton preempts whole gangs itself."""
    affinity = template_spec.get("affinity") or {}
    required_nodes = (affinity.get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return not (
        required_nodes
        or (affinity.get("podAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        or (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        or template_spec.get("topologySpreadConstraints")
        or template_spec.get("priorityClassName")
    )


def requiring(pod_spec: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """``pod_spec`` with every required node selector term also requiring ``rules`` (field
    selectors). Terms are ORed and the expressions of a term ANDed, so the rules go into each of
    the template's own terms (or into one new term when it has none); preferred terms are kept as
    they are. No rules: unchanged."""
    if not rules:
        return pod_spec
    # Only the affinity changes: it is copied, the rest of the spec shared with ``pod_spec``.
    spec = {**pod_spec, "affinity": copy.deepcopy(pod_spec.get("affinity") or {})}
    node_affinity = spec["affinity"].setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms") or [{}]
    required["nodeSelectorTerms"] = [
        {**term, "matchFields": [*(term.get("matchFields") or []), *rules]} for term in terms
    ]
    return spec
