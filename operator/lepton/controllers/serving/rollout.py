"""The canary rollout's part of the InferenceService reconcile (strategy Canary): observe what
policies.rollout reads (the versions' Ready replicas, the HTTPRoute's weights, whether Gateway API
is served, how the Gateway can mirror), run the analysis check when one is due, decide, and act on
the traffic objects (the per-version Services, Traefik's mirror and the HTTPRoute). The Deployments
and the stable Service are applied by the reconcile from the Plan made here (policies.canary_plan),
in its one pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lepton.api.inferenceservice import InferenceService, InferenceServiceReason
from lepton.api.modelversion import ModelVersion
from lepton.builders.inference import APPLIED_HASH
from lepton.builders.traffic import (
    GATEWAY_API_VERSION,
    GATEWAY_GROUP,
    MirrorMode,
    construct_httproute,
    construct_version_service,
    names_mirror_service,
    route_weights,
    version_service_name,
)
from lepton.controllers.kit.events import Events
from lepton.controllers.serving.context import Serving
from lepton.controllers.serving.metrics import analyse
from lepton.controllers.serving.mirror import (
    act_mirror_service,
    gateway_facts,
    mirror_main,
    observe_mirror_service,
)
from lepton.controllers.serving.observe import ServiceState
from lepton.controllers.serving.zero import apply_if_changed
from lepton.kube import resources
from lepton.policies.canary_plan import canary_plan, routed, version_services
from lepton.policies.inference import DeploymentState, Plan
from lepton.policies.mirror import MirrorChoice, choose_mirror
from lepton.policies.models import Resolution
from lepton.policies.rollout import decide
from lepton.policies.rollout_actions import actions_from
from lepton.policies.rollout_state import (
    ACTIVE,
    Measurement,
    Observed,
    failed_from_status,
    rollout_spec,
    state_from_status,
)
from lepton.policies.rollout_traffic import Decision

HTTPROUTES = "httproutes"
NO_GATEWAY_API = (
    "spec.traffic is not acted on: Gateway API's HTTPRoute is not served in this cluster, so no route "
    "is made and a rollout splits traffic by Ready replicas behind the stable Service"
)


@dataclass(frozen=True)
class Traffic:
    """How the service's traffic is split, and the HTTPRoute as observed."""

    gateway: bool
    """spec.traffic is set and Gateway API is served: the HTTPRoute splits by weight."""
    served: bool
    """Gateway API is served."""
    route: Mapping[str, Any] | None
    """The service's HTTPRoute, when one was looked for and exists."""
    mirror_service: Mapping[str, Any] | None = None
    """The service's TraefikService, when it exists (looked for only where one may)."""

    def note(self, isvc: InferenceService) -> str:
        """What status must say about spec.traffic (empty when it is acted on)."""
        return NO_GATEWAY_API if isvc.spec.traffic is not None and not self.served else ""


async def observe_traffic(isvc: InferenceService, serving: Serving) -> Traffic:
    served = serving.discovery is not None and await serving.discovery.served(GATEWAY_GROUP, "v1", HTTPROUTES)
    route = None
    status = isvc.status
    spec_changed = status is None or status.observed_generation != isvc.metadata.generation
    # The route is read while spec.traffic asks for one, and once when the spec changed (a route
    # left from a removed spec.traffic is then deleted): no request per reconcile otherwise.
    if served and (isvc.spec.traffic is not None or spec_changed):
        ref = resources.Ref(GATEWAY_API_VERSION, HTTPROUTES, isvc.namespace, isvc.name)
        route = await resources.get(serving.kube, ref)
    gateway = served and isvc.spec.traffic is not None
    mirror_service = await observe_mirror_service(isvc, serving, spec_changed) if gateway else None
    return Traffic(gateway, served, route, mirror_service)


@dataclass(frozen=True)
class CanaryRound:
    decision: Decision
    plan: Plan
    invalid: tuple[str, ...]
    """Why a rollout annotation was not understood."""
    mirror: MirrorChoice
    """How the Gateway mirrors (read only while a rollout with mirrorPercent runs)."""


async def decide_canary(
    isvc: InferenceService,
    serving: Serving,
    *,
    replicas: int,
    resolution: Resolution,
    versions: list[ModelVersion],
    deployments: list[DeploymentState],
    service: ServiceState | None,
    traffic: Traffic,
) -> CanaryRound:
    """One decision of the rollout, with the analysis check run first when one is due."""
    status = isvc.status
    live = {d.version: d for d in deployments if not d.deleting}
    recorded = status.current_version if status else None
    selects = service.selects if service else None
    stable = recorded if recorded in live else (selects if selects in live else None)
    target = resolution.version.version if resolution.version is not None else None
    state = state_from_status(status.canary if status else None)
    now = serving.clock()
    measurement = None
    due = state.next_analysis_time if state is not None and state.phase in ACTIVE else None
    if state is not None and due is not None and due <= now:
        measurement = Measurement(now, await analyse(isvc, state.version, serving))
    names = sorted({*live, *(v for v in (target, stable) if v)})
    mirror = MirrorChoice(MirrorMode.FILTER)
    percent = isvc.spec.traffic.mirror_percent if isvc.spec.traffic else None
    # Read only while a rollout may mirror: a new target beside a stable version, or one running.
    rolling = (stable is not None and target not in (None, stable)) or (
        state is not None and state.phase in ACTIVE
    )
    if traffic.gateway and percent and rolling:
        mirror = choose_mirror(await gateway_facts(isvc, serving), percent)
    observed = Observed(
        ready={v: d.ready for v, d in live.items()},
        route_weights=route_weights(traffic.route, isvc.name, names, stable) if traffic.gateway else None,
        mirror_unsupported=mirror.message,
    )
    actions = actions_from(isvc.metadata.annotations)
    decision = decide(
        spec=rollout_spec(isvc.spec, replicas, gateway=traffic.gateway),
        state=state,
        failed=failed_from_status(status.failed_versions if status else None),
        stable=stable,
        target=target,
        observed=observed,
        now=now,
        measurement=measurement,
        actions=actions,
    )
    # The ModelVersion each Deployment is built from: the resolved target's, the running one's, or
    # (a Deployment deleted by hand) the version's by name.
    sources = {mv.spec.version: mv.metadata.uid or "" for mv in versions if mv.metadata.uid}
    sources.update({v: d.modelversion_uid for v, d in live.items() if d.modelversion_uid})
    if resolution.version is not None and resolution.version.uid:
        sources[resolution.version.version] = resolution.version.uid
    plan = canary_plan(
        decision,
        deployments=deployments,
        service_selects=selects,
        route_weights=observed.route_weights,
        sources=sources,
        gateway=traffic.gateway,
    )
    return CanaryRound(decision, plan, actions.invalid, mirror)


@dataclass(frozen=True)
class TrafficActed:
    route_changed: bool = False
    """Read the route back soon: a promotion completes once the route is observed to carry it."""
    wait: float | None = None
    """Seconds until Traefik's mirror is due to be named or deleted (reconcile again then)."""


async def act_traffic(
    isvc: InferenceService,
    serving: Serving,
    traffic: Traffic,
    version_svcs: list[ServiceState],
    weights: Mapping[str, int],
    wanted: set[str],
    mirror: tuple[str, int] | None,
    events: Events,
    to_activator: bool = False,
    mode: MirrorMode = MirrorMode.FILTER,
) -> TrafficActed:
    """Apply the per-version Services, Traefik's mirror (`mode` TraefikService) and the HTTPRoute
    (with Gateway API and spec.traffic), delete what is no longer used. ``to_activator``: the route
    sends everything to the stable Service, which selects the activator while no replica is ready."""
    ns = isvc.namespace
    main = mirror_main(weights, mirror)
    observed_route = route_weights(traffic.route, isvc.name, sorted({*weights, *wanted}), main)
    if not traffic.gateway:
        if traffic.route is not None:
            ref = resources.Ref(GATEWAY_API_VERSION, HTTPROUTES, ns, isvc.name)
            if await resources.delete(serving.kube, ref):
                serving.applied.pop(f"{ns}/{HTTPROUTES}/{isvc.name}", None)
            if names_mirror_service(traffic.route, isvc.name):  # no route is left to name it
                await act_mirror_service(isvc, serving, wanted=None, observed={}, route=None)
        return TrafficActed()
    if not weights:
        return TrafficActed()  # nothing serves yet: no route to a backend that does not exist
    by_version = {s.selects: s for s in version_svcs if s.selects}
    plan = version_services(wanted, sorted(by_version), observed_route)
    for version in plan.apply:
        observed = by_version.get(version)
        body = construct_version_service(isvc, version)
        await apply_if_changed(serving, body, "services", observed.applied_hash if observed else None)
    traefik = mode is MirrorMode.TRAEFIK_SERVICE and not to_activator
    desired = (main, *mirror) if traefik and mirror is not None and main is not None else None
    mirrored = await act_mirror_service(
        isvc, serving, wanted=desired, observed=traffic.mirror_service, route=traffic.route
    )
    if mode is MirrorMode.TRAEFIK_SERVICE and not mirrored.named:
        mode = MirrorMode.NONE  # not yet (or no longer) through the TraefikService: no mirror
    route = construct_httproute(isvc, weights, mirror, to_activator, mode)
    seen = ((traffic.route or {}).get("metadata") or {}).get("annotations") or {}
    observed_hash = seen.get(APPLIED_HASH) if traffic.route is not None else None
    changed = await apply_if_changed(serving, route, HTTPROUTES, observed_hash)
    if changed and traffic.route is None:
        message = f"HTTPRoute {isvc.name} created: {_shares(weights)}"
        events.normal(InferenceServiceReason.TRAFFIC_SWITCHED, message)
    for version in plan.delete:
        name = version_service_name(isvc.name, version)
        if await resources.delete(serving.kube, resources.Ref("v1", "services", ns, name)):
            serving.applied.pop(f"{ns}/services/{name}", None)
    return TrafficActed(changed, mirrored.wait)


def _shares(weights: Mapping[str, int]) -> str:
    return ", ".join(f"{w} % to {v}" for v, w in weights.items())


def version_services_of(services: list[ServiceState], isvc_name: str) -> list[ServiceState]:
    """The per-version Services among a service's Services (named after the version they select)."""
    return [s for s in services if s.selects and s.name == version_service_name(isvc_name, s.selects)]


def wanted_versions(decision: Decision | None, plan: Plan) -> tuple[dict[str, int], set[str]]:
    """The route's weights and the versions that need a Service: the rollout's, or (Recreate) all
    traffic to the serving version."""
    if decision is not None:
        return dict(decision.weights), routed(decision)
    version = plan.service_version
    return ({version: 100} if version else {}), set(plan.deploy)
