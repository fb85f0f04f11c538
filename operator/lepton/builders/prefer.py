"""Ask a worker that cannot be pinned to bind where admission placed it: a preferred node affinity
on ``metadata.name``.

Workers are pinned to admission's node (builders.required) except where a pin could go wrong:
under a gang scheduler (Volcano, the coscheduler), which reports every pod of a gang still waiting
for its members Unschedulable (for a pinned pod: a node that cannot take it), and where
``builders.required.pinnable`` says no. There the pod only prefers the node: a preference, not a
requirement, so when the node cannot take the pod kube-scheduler binds it elsewhere rather than
leave it Pending.

Why it wins: the NodeAffinity score plugin sums the weights of the preferred terms a node matches
and normalizes them so that the best node scores 100, whatever the weights; the default profile
weighs NodeAffinity 2, NodeResourcesFit (LeastAllocated) and BalancedAllocation 1 each, each
scoring at most 100 (from cpu and memory: GPUs are not among their default resources). The chosen
node thus leads by 200 from the preference and trails by less on any node the pod fits: both
spreading scores at their extremes would need the pod's node full and another one empty and
balanced. 100, the largest weight allowed, outweighs any preferred term of the user's template
(kept beside it), so admission's node stays the best match among them.
"""

from __future__ import annotations

import copy
from typing import Any

WEIGHT = 100  # the largest the API server accepts


def preferring(pod_spec: dict[str, Any], node: str | None) -> dict[str, Any]:
    """``pod_spec`` with a preferred term for ``node`` (weight ``WEIGHT``) after the template's own
    preferred terms; required terms are kept as they are. None: unchanged."""
    if not node:
        return pod_spec
    # Only the affinity changes: it is copied, the rest of the spec shared with ``pod_spec``.
    spec = {**pod_spec, "affinity": copy.deepcopy(pod_spec.get("affinity") or {})}
    node_affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    preferred = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
        *preferred,
        {"weight": WEIGHT, "preference": term},
    ]
    return spec
