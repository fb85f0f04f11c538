"""Keep a pod off named nodes: a required node affinity on ``metadata.name``.

Why an affinity and not a taint: the operator only reads nodes (no write access to them, so other
workloads and the health agent's own remediation are untouched), kube-scheduler and the gang
schedulers Lepton supports (Volcano, the coscheduler) honour required node affinity, and the rule
travels with the pod, so a worker created for a re-admitted gang cannot land on the faulty node
even though the node still looks Ready and has allocatable GPUs to the scheduler.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any


def avoiding(pod_spec: dict[str, Any], nodes: Sequence[str]) -> dict[str, Any]:
    """``pod_spec`` with every required node selector term also requiring a node not in ``nodes``.

    Terms are ORed and the expressions of a term ANDed, so the rules go into each of the
    template's own terms (or into one new term when it has none); preferred terms are kept as
    they are. The API server allows one value per ``metadata.name`` field selector, hence one
    NotIn expression per node. ``nodes`` are taken as given (sorted by the caller).
    """
    if not nodes:
        return pod_spec
    # Only the affinity changes: it is copied, the rest of the spec shared with ``pod_spec``.
    spec = {**pod_spec, "affinity": copy.deepcopy(pod_spec.get("affinity") or {})}
    rules = [{"key": "metadata.name", "operator": "NotIn", "values": [node]} for node in nodes]
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms") or [{}]
    required["nodeSelectorTerms"] = [
        {**term, "matchFields": [*(term.get("matchFields") or []), *rules]} for term in terms
    ]
    return spec
