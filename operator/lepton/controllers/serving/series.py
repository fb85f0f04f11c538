"""The InferenceService reconcile's decision as the operator's gauges (lepton.metrics): built from
the status just written (phase, status.canary in wire form) and the plan acted on, so a dashboard
shows exactly what `kubectl get lisvc -o yaml` says, with no request of its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lepton.api.rollout import AnalysisResult
from lepton.metrics import CanarySnapshot, ServiceSnapshot
from lepton.policies.inference import DeploymentState, Plan

# status.canary's counters by the verdict they count.
CHECK_FIELDS = {
    AnalysisResult.PASS: "passedChecks",
    AnalysisResult.FAIL: "failedChecks",
    AnalysisResult.INCONCLUSIVE: "inconclusiveChecks",
    AnalysisResult.ERROR: "errorChecks",
}
REQUESTS = "requests"


def canary_snapshot(canary: Mapping[str, Any] | None) -> CanarySnapshot | None:
    """status.canary (wire form, as policies.rollout_state.canary_status writes it) as gauges."""
    if not canary or not canary.get("phase"):
        return None
    analysis = canary.get("analysis") or {}
    values: dict[str, float] = {}
    thresholds: dict[tuple[str, str], float] = {}
    if analysis.get("requests") is not None:
        values[REQUESTS] = float(analysis["requests"])
    for metric in analysis.get("metrics") or []:
        name = str(metric["name"])
        if metric.get("value") is not None:
            values[name] = float(metric["value"])
        for bound in ("max", "min"):
            if metric.get(bound) is not None:
                thresholds[(name, bound)] = float(metric[bound])
    return CanarySnapshot(
        version=str(canary["version"]),
        phase=str(canary["phase"]),
        weight=int(canary.get("weight") or 0),
        checks={r.value: int(canary.get(f) or 0) for r, f in CHECK_FIELDS.items()},
        result=analysis.get("result"),
        values=values,
        thresholds=thresholds,
    )


def service_snapshot(
    status: Mapping[str, Any],
    canary: Mapping[str, Any] | None,
    *,
    desired: int,
    decided: Plan,
    deployments: Sequence[DeploymentState],
) -> ServiceSnapshot:
    """`status`: the status written; `canary`: status.canary as written (None without a rollout);
    `desired`: the replicas decided (autoscaler or spec); the Ready replicas are the observed ones
    the status counted."""
    ready: dict[str, int] = {}
    for d in deployments:
        if not d.deleting:
            ready[d.version] = ready.get(d.version, 0) + d.ready
    return ServiceSnapshot(
        phase=str(status.get("phase") or ""),
        desired=desired,
        versions=dict(decided.deploy),
        ready=ready,
        canary=canary_snapshot(canary),
    )
