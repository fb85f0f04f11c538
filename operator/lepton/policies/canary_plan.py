"""From a canary rollout decision (policies/rollout.py) to what the InferenceService reconcile acts on
and writes: the Plan of Deployments and the stable Service (as policies/inference.plan gives for
Recreate), the per-version Services the HTTPRoute sends to, and the status fields the rollout owns.

Make before break, as in `plan`: a Deployment or a per-version Service goes only once neither the
stable Service nor the HTTPRoute is observed to send it traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lepton.api.inferenceservice import InferenceServicePhase
from lepton.policies.inference import Assessment, DeploymentState, Plan
from lepton.policies.rollout_state import ACTIVE, canary_status, failed_status
from lepton.policies.rollout_traffic import Decision


def rolling(decision: Decision) -> str | None:
    """The version being rolled out, while its rollout is active."""
    state = decision.state
    return state.version if state is not None and state.phase in ACTIVE else None


def canary_plan(
    decision: Decision,
    *,
    deployments: Sequence[DeploymentState],
    service_selects: str | None,
    route_weights: Mapping[str, int] | None,
    sources: Mapping[str, str],
    gateway: bool,
) -> Plan:
    """`sources`: version -> uid of the ModelVersion to build its Deployment from (the resolved
    target's, else the one its running Deployment was made from)."""
    live = {d.version: d for d in deployments if not d.deleting}
    # A version at 0 keeps its Deployment (scaled down, its pods gone) until the decision drops it;
    # one never created is not created at 0.
    deploy = {v: n for v, n in decision.replicas.items() if n > 0 or v in live}
    keep = set(decision.replicas) | carrying(service_selects, route_weights)
    delete = tuple(sorted(d.name for v, d in live.items() if v not in keep))
    candidate = rolling(decision)
    return Plan(
        deploy=deploy,
        service_version=decision.stable,
        delete=delete,
        current_version=decision.stable,
        rolling_to=candidate,
        # Without Gateway API the stable Service selects both versions while the rollout runs, and
        # the Ready replicas split the traffic (policies/traffic_split.py).
        shared_service=candidate is not None and not gateway,
        sources={v: sources[v] for v in deploy if v in sources},
    )


def carrying(service_selects: str | None, route_weights: Mapping[str, int] | None) -> set[str]:
    """Versions observed to receive traffic: the stable Service's, and the route's above 0."""
    found = {v for v, w in (route_weights or {}).items() if w > 0}
    return found | ({service_selects} if service_selects else set())


@dataclass(frozen=True)
class VersionServices:
    apply: tuple[str, ...]
    """Versions whose Service must exist."""
    delete: tuple[str, ...]
    """Versions whose Service may go."""


def version_services(
    wanted: set[str], observed: Sequence[str], route_weights: Mapping[str, int] | None
) -> VersionServices:
    """The per-version Services behind the HTTPRoute: those `wanted` (the versions that run or get
    traffic), and any other kept while the observed route still sends to it."""
    keep = wanted | carrying(None, route_weights)
    return VersionServices(tuple(sorted(wanted)), tuple(sorted(set(observed) - keep)))


def routed(decision: Decision) -> set[str]:
    """The versions a rollout decision runs, sends traffic to or mirrors to."""
    found = {v for v, w in decision.weights.items() if w > 0} | set(decision.replicas)
    return found | ({decision.mirror[0]} if decision.mirror is not None else set())


def with_rollout(assessment: Assessment, decision: Decision) -> Assessment:
    """The replica assessment with what the rollout says: RolloutProgressing is the rollout's, and a
    rolled-back or aborted rollout makes the service Degraded (as Argo Rollouts does) while the
    stable version serves."""
    phase = assessment.phase
    degraded = decision.degraded or assessment.degraded
    serving = (InferenceServicePhase.READY, InferenceServicePhase.ROLLING_OUT)
    if decision.degraded is not None and phase in serving:
        phase = InferenceServicePhase.DEGRADED
    return replace(assessment, phase=phase, progressing=decision.progressing, degraded=degraded)


def rollout_status(decision: Decision, previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """status.canary, status.failedVersions and status.traffic (None deletes a field). `previous`
    is the status as read: the status write is a merge patch, which would keep a field of
    status.canary that the new state no longer has (a step's start once the step is left), so
    each such field is deleted explicitly."""
    traffic = [{"version": v, "weight": w} for v, w in decision.weights.items()]
    return {
        "canary": replacing((previous or {}).get("canary"), canary_status(decision.state)),
        "failedVersions": failed_status(decision.failed),
        "traffic": traffic or None,
    }


def replacing(current: Any, desired: Any) -> Any:
    """`desired` as a merge patch over `current` that leaves exactly `desired`: None for every key
    of `current` (at any depth) that `desired` lacks."""
    if not isinstance(current, Mapping) or not isinstance(desired, Mapping):
        return desired
    patch = {k: replacing(current.get(k), v) for k, v in desired.items()}
    return {**{k: None for k in current if k not in desired}, **patch}
