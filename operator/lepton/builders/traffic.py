"""Traffic objects of a canary rollout: one Service per version, the HTTPRoute that splits (and
mirrors) traffic between them through the Gateway API (gateway.networking.k8s.io/v1, as served by
Gateway API v1.4), and, where the Gateway is Traefik without Gateway API's RequestMirror, the
Traefik TraefikService that mirrors instead (policies.mirror says which)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from lepton.api.common import LeptonModel
from lepton.api.inferenceservice import InferenceService
from lepton.api.modelversion import VERSION_LABEL
from lepton.builders.inference import (
    ISVC_LABEL,
    SERVER_COMPONENT,
    SERVICE_PORT,
    service_body,
    version_selector,
    with_hash,
)
from lepton.builders.owners import owner_reference
from lepton.builders.verification import COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL

GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_VERSION = f"{GATEWAY_GROUP}/v1"
TRAEFIK_GROUP = "traefik.io"
TRAEFIK_API_VERSION = f"{TRAEFIK_GROUP}/v1alpha1"
TRAEFIK_SERVICE = "TraefikService"
MAX_SERVICE_NAME = 63


class MirrorMode(StrEnum):
    FILTER = "RequestMirror"
    """The HTTPRoute's RequestMirror filter (Gateway API extended features)."""
    TRAEFIK_SERVICE = "TraefikService"
    """A Traefik TraefikService with `mirroring`, named as the stable version's backend."""
    NONE = "None"
    """No mirror: the Gateway cannot, or what it can do is unknown."""


def version_service_name(isvc_name: str, version: str) -> str:
    """`<isvc>-<version>`; past the 63 characters of a Service name, a prefix of it and a hash of the
    whole, so two versions never share a name and the same version always gets the same one."""
    return _bounded(f"{isvc_name}-{version}")


def mirror_service_name(isvc_name: str) -> str:
    """The service's one TraefikService, `<isvc>-mirror` (another kind than the version Services, so
    a version named `mirror` does not collide with it)."""
    return _bounded(f"{isvc_name}-mirror")


def _bounded(name: str) -> str:
    if len(name) <= MAX_SERVICE_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_SERVICE_NAME - len(digest) - 1].rstrip('-')}-{digest}"


def construct_version_service(isvc: InferenceService, version: str) -> dict[str, Any]:
    """The Service of one version's pods: the HTTPRoute's backend for that version (its Ready
    endpoints are what the Gateway routes to)."""
    name = version_service_name(isvc.name, version)
    return service_body(isvc, name, version_selector(isvc.name, version), {VERSION_LABEL: version})


def ratio_selector(isvc_name: str) -> dict[str, str]:
    """Without Gateway API, the stable Service selects the model servers of every version during a
    rollout, so that the split follows the Ready replicas (policies/traffic_split.py)."""
    return {ISVC_LABEL: isvc_name, COMPONENT_LABEL: SERVER_COMPONENT}


def construct_shared_service(isvc: InferenceService) -> dict[str, Any]:
    """The stable Service `<isvc>` selecting the model servers of every version: a canary without
    Gateway API, where the Ready replicas of both versions split the traffic."""
    return service_body(isvc, isvc.name, ratio_selector(isvc.name))


def _service_ref(isvc_name: str, version: str) -> dict[str, Any]:
    return _ref(version_service_name(isvc_name, version))


def _ref(service_name: str) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": service_name, "port": SERVICE_PORT}


def _dump(model: LeptonModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def construct_httproute(
    isvc: InferenceService,
    weights: Mapping[str, int],
    mirror: tuple[str, int] | None = None,
    to_activator: bool = False,
    mode: MirrorMode = MirrorMode.FILTER,
) -> dict[str, Any]:
    """The service's HTTPRoute, named after it and owned by it: attached to spec.traffic.gateway,
    matching spec.traffic.hostnames, sending each version its weight (versions at 0 are left out,
    so a Service not created yet is never a backend) and mirroring `mirror`'s percent of requests
    to that version (its responses are discarded) as `mode` says: a RequestMirror filter (without
    `percent` at 100, which needs only HTTPRouteRequestMirror), or the TraefikService of
    construct_mirror_service in place of the other version's backend, with its weight.

    ``to_activator``: no replica is ready (scaled to zero, or waking up) and the stable Service
    selects the activator, so the route sends everything there: a Gateway routes to a backend's
    endpoints itself, and the version's Service has none, so requests would fail (503) rather than
    wait in the activator for a replica."""
    traffic = isvc.spec.traffic
    if traffic is None:
        raise ValueError(f"{isvc.name} has no spec.traffic: no HTTPRoute")
    parent: dict[str, Any] = {"group": GATEWAY_GROUP, "kind": "Gateway", **_dump(traffic.gateway)}
    mirror = mirror if mirror is not None and mirror[1] > 0 and not to_activator else None
    carrying = {v: w for v, w in weights.items() if w > 0} or dict(weights)
    backends = []
    for version, weight in sorted(carrying.items()):
        via_traefik = mirror is not None and mode is MirrorMode.TRAEFIK_SERVICE and version != mirror[0]
        ref = _traefik_ref(isvc.name) if via_traefik else _service_ref(isvc.name, version)
        backends.append({**ref, "weight": weight})
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [{**_ref(isvc.name), "weight": 100}] if to_activator else backends,
    }
    if mirror is not None and mode is MirrorMode.FILTER:
        version, percent = mirror
        request_mirror: dict[str, Any] = {"backendRef": _service_ref(isvc.name, version)}
        if percent < 100:
            request_mirror["percent"] = percent
        rule["filters"] = [{"type": "RequestMirror", "requestMirror": request_mirror}]
    spec: dict[str, Any] = {"parentRefs": [parent], "rules": [rule]}
    if traffic.hostnames:
        spec["hostnames"] = list(traffic.hostnames)
    return with_hash(
        {
            "apiVersion": GATEWAY_API_VERSION,
            "kind": "HTTPRoute",
            "metadata": _metadata(isvc, isvc.name),
            "spec": spec,
        }
    )


def _traefik_ref(isvc_name: str) -> dict[str, Any]:
    # No port: a TraefikService is not a Kubernetes Service (its backends carry their own ports).
    return {"group": TRAEFIK_GROUP, "kind": TRAEFIK_SERVICE, "name": mirror_service_name(isvc_name)}


def _metadata(isvc: InferenceService, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": isvc.namespace,
        "labels": {ISVC_LABEL: isvc.name, MANAGED_BY_LABEL: MANAGED_BY},
        "ownerReferences": [owner_reference(isvc)],
    }


def construct_mirror_service(isvc: InferenceService, main: str, mirror: str, percent: int) -> dict[str, Any]:
    """Traefik's mirroring (traefik.io/v1alpha1 TraefikService): every request goes to the Service of
    version `main`, whose answer the client gets, and `percent` % of them are copied, body included
    (mirrorBody; an inference request is a POST), to version `mirror`'s Service, whose answers
    Traefik discards. Owned by the InferenceService; named from the HTTPRoute as the main version's
    backend."""
    return with_hash(
        {
            "apiVersion": TRAEFIK_API_VERSION,
            "kind": TRAEFIK_SERVICE,
            "metadata": _metadata(isvc, mirror_service_name(isvc.name)),
            "spec": {
                "mirroring": {
                    "kind": "Service",
                    "name": version_service_name(isvc.name, main),
                    "port": SERVICE_PORT,
                    "mirrorBody": True,
                    "mirrors": [
                        {
                            "kind": "Service",
                            "name": version_service_name(isvc.name, mirror),
                            "port": SERVICE_PORT,
                            "percent": percent,
                        }
                    ],
                }
            },
        }
    )


def route_weights(
    route: Mapping[str, Any] | None, isvc_name: str, versions: list[str], mirror_main: str | None = None
) -> dict[str, int] | None:
    """The weights an observed HTTPRoute carries, by version (for policies.rollout's make-before-break
    promotion); None when there is no route. A backendRef's weight defaults to 1 in the Gateway API.
    The TraefikService backend counts for `mirror_main`, the version it sends to (the stable one)."""
    if route is None:
        return None
    by_service = {version_service_name(isvc_name, v): v for v in versions}
    found: dict[str, int] = {}
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if ref.get("kind") == TRAEFIK_SERVICE:
                version = mirror_main if ref.get("name") == mirror_service_name(isvc_name) else None
            else:
                version = by_service.get(ref.get("name", ""))
            if version is not None:
                found[version] = found.get(version, 0) + int(ref.get("weight", 1))
    total = sum(found.values())
    return {v: round(100 * w / total) for v, w in found.items()} if total else {}


def names_mirror_service(route: Mapping[str, Any] | None, isvc_name: str) -> bool:
    """Whether an observed HTTPRoute sends to the service's TraefikService (it must outlive that)."""
    name = mirror_service_name(isvc_name)
    rules = ((route or {}).get("spec") or {}).get("rules") or []
    refs = [ref for rule in rules for ref in rule.get("backendRefs") or []]
    return any(ref.get("kind") == TRAEFIK_SERVICE and ref.get("name") == name for ref in refs)
