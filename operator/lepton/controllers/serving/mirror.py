"""Shadow traffic's part of the rollout reconcile: read what the route's Gateway can do (its
GatewayClass, and whether Traefik's TraefikService kind is served) for policies.mirror, and keep
the service's TraefikService when Traefik mirrors: named by the route only a grace after it exists,
deleted a grace after the route stopped naming it (policies.mirror.mirror_service_plan: Traefik must
never route by a TraefikService it has not loaded, or no longer has)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lepton.api.inferenceservice import InferenceService
from lepton.api.times import epoch_of
from lepton.builders.inference import APPLIED_HASH
from lepton.builders.traffic import (
    GATEWAY_API_VERSION,
    TRAEFIK_API_VERSION,
    TRAEFIK_GROUP,
    construct_mirror_service,
    mirror_service_name,
    names_mirror_service,
)
from lepton.controllers.serving.context import Serving
from lepton.controllers.serving.zero import apply_if_changed
from lepton.kube import resources
from lepton.kube.apply import FIELD_MANAGER
from lepton.kube.errors import KubeError
from lepton.policies.mirror import GatewayFacts, MirrorServicePlan, mirror_service_plan

TRAEFIK_SERVICES = "traefikservices"


async def traefik_services_served(serving: Serving) -> bool:
    return serving.discovery is not None and await serving.discovery.served(
        TRAEFIK_GROUP, "v1alpha1", TRAEFIK_SERVICES
    )


async def gateway_facts(isvc: InferenceService, serving: Serving) -> GatewayFacts:
    """The Gateway of spec.traffic, its GatewayClass (read by name: two GETs, made only while a
    rollout with mirrorPercent runs) and whether TraefikService is served."""
    traffic = isvc.spec.traffic
    assert traffic is not None
    namespace = traffic.gateway.namespace or isvc.namespace
    where = f"{namespace}/{traffic.gateway.name}"
    try:
        ref = resources.Ref(GATEWAY_API_VERSION, "gateways", namespace, traffic.gateway.name)
        gateway = await resources.get(serving.kube, ref)
        if gateway is None:
            return GatewayFacts(where, problem=f"Gateway {where} not found")
        class_name = str((gateway.get("spec") or {}).get("gatewayClassName") or "")
        ref = resources.Ref(GATEWAY_API_VERSION, "gatewayclasses", "", class_name)
        found = await resources.get(serving.kube, ref)
    except KubeError as exc:
        # A Gateway in a namespace this operator may not read, for instance.
        return GatewayFacts(where, problem=f"cannot read Gateway {where} or its class ({exc.message})")
    if found is None:
        return GatewayFacts(
            where, class_name, problem=f"GatewayClass {class_name} of Gateway {where} not found"
        )
    published = (found.get("status") or {}).get("supportedFeatures")
    features = None if not published else frozenset(_names(published))
    controller = str((found.get("spec") or {}).get("controllerName") or "")
    return GatewayFacts(where, class_name, controller, features, await traefik_services_served(serving))


def _names(published: list[Any]) -> list[str]:
    # Gateway API v1.2+ lists {name: ...}; v1.1 had plain strings (experimental channel).
    return [str(f.get("name") if isinstance(f, Mapping) else f) for f in published]


async def observe_mirror_service(
    isvc: InferenceService, serving: Serving, spec_changed: bool
) -> dict[str, Any] | None:
    """The service's TraefikService, when it exists. Looked for only where Traefik's kind is served
    and one may exist or be wanted: mirrorPercent set, a rollout recorded (it may have ended this
    round), or a changed spec (mirrorPercent removed)."""
    traffic = isvc.spec.traffic
    if traffic is None:
        return None
    recorded = isvc.status is not None and isvc.status.canary is not None
    if not (traffic.mirror_percent or spec_changed or recorded):
        return None
    if not await traefik_services_served(serving):
        return None
    ref = resources.Ref(TRAEFIK_API_VERSION, TRAEFIK_SERVICES, isvc.namespace, mirror_service_name(isvc.name))
    return await resources.get(serving.kube, ref)


def mirror_main(weights: Mapping[str, int], mirror: tuple[str, int] | None) -> str | None:
    """The version a TraefikService would wrap: the one carrying traffic beside the mirrored one."""
    if mirror is None:
        return None
    return next((v for v, w in sorted(weights.items()) if v != mirror[0] and w > 0), None)


def applied_at(body: Mapping[str, Any] | None) -> float | None:
    """When the operator last applied ``body`` (its server-side apply entry in managedFields)."""
    entries = ((body or {}).get("metadata") or {}).get("managedFields") or []
    times = [
        epoch_of(e.get("time"))
        for e in entries
        if e.get("manager") == FIELD_MANAGER and e.get("operation") == "Apply" and e.get("time")
    ]
    return max((t for t in times if t is not None), default=None)


async def act_mirror_service(
    isvc: InferenceService,
    serving: Serving,
    *,
    wanted: tuple[str, str, int] | None,
    observed: Mapping[str, Any] | None,
    route: Mapping[str, Any] | None,
) -> MirrorServicePlan:
    """Apply or delete the service's TraefikService as policies.mirror's plan says. ``wanted``:
    (main version, mirrored version, percent) when Traefik mirrors this round; ``observed``: the
    TraefikService as read (empty when only known to exist); ``route``: the HTTPRoute as read."""
    plan = mirror_service_plan(
        wanted=wanted is not None,
        exists=observed is not None,
        created_at=epoch_of(((observed or {}).get("metadata") or {}).get("creationTimestamp")),
        named_before=names_mirror_service(route, isvc.name),
        route_applied_at=applied_at(route),
        now=serving.clock(),
    )
    if plan.apply and wanted is not None:
        body = construct_mirror_service(isvc, *wanted)
        seen = ((observed or {}).get("metadata") or {}).get("annotations") or {}
        await apply_if_changed(serving, body, TRAEFIK_SERVICES, seen.get(APPLIED_HASH))
    if plan.delete:
        name = mirror_service_name(isvc.name)
        ref = resources.Ref(TRAEFIK_API_VERSION, TRAEFIK_SERVICES, isvc.namespace, name)
        if await resources.delete(serving.kube, ref):
            serving.applied.pop(f"{isvc.namespace}/{TRAEFIK_SERVICES}/{name}", None)
    return plan
