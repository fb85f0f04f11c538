"""How shadow traffic (spec.traffic.mirrorPercent) reaches the new version, from what the route's
Gateway says it can do. Gateway API has no way to ask whether a filter will be accepted other than
the GatewayClass's status.supportedFeatures (v1.2+): an implementation lists there the extended
features it implements, and a route using one it lacks is refused as a whole (Traefik v3.6 answers
"unsupported filter RequestMirror" and drops the route), so the operator never writes a filter the
class does not list.

- The class lists HTTPRouteRequestMirror (and HTTPRouteRequestPercentageMirror for a percentage
  below 100): the route's RequestMirror filter.
- The class is Traefik's and Traefik's TraefikService kind is served: a TraefikService with
  `mirroring` (Traefik's own mirror, which its Gateway provider accepts as a backendRef when its
  Kubernetes CRD provider is on) in place of the stable version's backend.
- Neither: no mirror, and a reason saying which class lacks which feature.

Then the rollout's side (policies.rollout calls these): what is mirrored, what a rollout announces
when nothing can be, and the hold of a shadow step nothing is mirrored to."""

from __future__ import annotations

from dataclasses import dataclass

from lepton.builders.traffic import MirrorMode
from lepton.policies.rollout_state import Observed, RolloutSpec, RolloutState

REQUEST_MIRROR = "HTTPRouteRequestMirror"
PERCENTAGE_MIRROR = "HTTPRouteRequestPercentageMirror"
TRAEFIK_CONTROLLER = "traefik.io/gateway-controller"
TRAEFIK_SERVICES = "traefikservices.traefik.io"
_CONSEQUENCE = (
    "mirrorPercent is not acted on (no request is mirrored; the new version is analysed on its "
    "weighted share)"
)


@dataclass(frozen=True)
class GatewayFacts:
    """What the controller read about the Gateway of spec.traffic and its class."""

    gateway: str
    """namespace/name of the Gateway (for messages)."""
    class_name: str | None = None
    controller: str | None = None
    """spec.controllerName of the GatewayClass."""
    features: frozenset[str] | None = None
    """status.supportedFeatures' names; None when the class publishes none (before Gateway API
    v1.2, or an implementation that does not fill it)."""
    traefik_services: bool = False
    """traefik.io/v1alpha1 TraefikService is served."""
    problem: str = ""
    """Why the Gateway or its class could not be read (then nothing else is known)."""


@dataclass(frozen=True)
class MirrorChoice:
    mode: MirrorMode
    message: str = ""
    """Why nothing is mirrored (mode NONE only)."""


def needed_features(percent: int) -> tuple[str, ...]:
    """A filter without `percent` mirrors every request; `percent` is the separate feature."""
    return (REQUEST_MIRROR,) if percent >= 100 else (REQUEST_MIRROR, PERCENTAGE_MIRROR)


def choose_mirror(facts: GatewayFacts, percent: int) -> MirrorChoice:
    """How to mirror `percent` % of the requests through the Gateway `facts` describe."""
    if facts.problem:
        return MirrorChoice(MirrorMode.NONE, f"{facts.problem}: {_CONSEQUENCE}")
    needed = needed_features(percent)
    published = facts.features
    if published is not None and all(f in published for f in needed):
        return MirrorChoice(MirrorMode.FILTER)
    traefik = facts.controller == TRAEFIK_CONTROLLER
    if traefik and facts.traefik_services:
        return MirrorChoice(MirrorMode.TRAEFIK_SERVICE)
    what = f"GatewayClass {facts.class_name} (controller {facts.controller}) of Gateway {facts.gateway}"
    if published is None:
        lacks = f"{what} publishes no status.supportedFeatures, so {' and '.join(needed)} cannot be relied on"
    else:
        missing = [f for f in needed if f not in published]
        lacks = f"{what} does not list {' and '.join(missing)} in status.supportedFeatures"
    if traefik:
        lacks += f", and {TRAEFIK_SERVICES} (Traefik's own mirroring) is not served"
    return MirrorChoice(MirrorMode.NONE, f"{lacks}: {_CONSEQUENCE}")


def mirrored(spec: RolloutSpec, observed: Observed, version: str) -> tuple[str, int] | None:
    """(version, percent) to mirror to: asked for, with Gateway API, a Gateway that can (the
    controller says why not in observed.mirror_unsupported), and a Ready replica to answer."""
    asked = spec.gateway and spec.mirror_percent > 0 and not observed.mirror_unsupported
    return (version, spec.mirror_percent) if asked and observed.ready_of(version) > 0 else None


def unmirrored_notice(spec: RolloutSpec, observed: Observed) -> str:
    """What a starting rollout announces when its mirror cannot be made (a shadow step, always the
    first since weights increase, announces it as it holds instead)."""
    if not (spec.mirror_percent and observed.mirror_unsupported) or not spec.steps:
        return ""
    return observed.mirror_unsupported if spec.steps[0].weight > 0 else ""


def shadow_unmirrored(spec: RolloutSpec, observed: Observed, state: RolloutState) -> str:
    """Why the rollout holds at a shadow step (weight 0) that nothing is mirrored to: the new version
    gets no request, so every check is Inconclusive and the step could never pass; said as a
    Holding phase rather than left to look like a slow step. Empty when it does not hold."""
    steps = spec.steps
    if not (spec.mirror_percent and observed.mirror_unsupported) or state.step >= len(steps):
        return ""
    if steps[state.step].weight > 0:
        return ""
    return (
        f"shadow step {state.step + 1} of {state.version} holds (it gets no request to analyse): "
        f"{observed.mirror_unsupported}; promote it by hand (lepton.ai/promote: {state.version}:"
        f"{state.step}) or drop the weight-0 step"
    )


MIRROR_GRACE_SECONDS = 5.0
"""How long a TraefikService exists before the route names it, and how long after the route stopped
naming it before it is deleted. Traefik's two providers load the route and the TraefikService
apart, each at most every providersThrottleDuration (2 s by default): a route naming a
TraefikService that Traefik has not loaded, or no longer has, fails the route's whole rule."""


@dataclass(frozen=True)
class MirrorServicePlan:
    apply: bool = False
    named: bool = False
    """The route names the TraefikService this round."""
    delete: bool = False
    wait: float | None = None
    """Seconds until the plan changes (reconcile again then)."""


def mirror_service_plan(
    *,
    wanted: bool,
    exists: bool,
    created_at: float | None,
    named_before: bool,
    route_applied_at: float | None,
    now: float,
    grace: float = MIRROR_GRACE_SECONDS,
) -> MirrorServicePlan:
    """Make before break around Traefik's loading. `exists` and `created_at`: the TraefikService as
    read; `named_before`: whether the route as read names it; `route_applied_at`: when the operator
    last applied the route (None: unknown, or no route)."""
    if wanted:
        if named_before:
            return MirrorServicePlan(apply=True, named=True)
        age = now - created_at if exists and created_at is not None else 0.0
        if exists and age >= grace:
            return MirrorServicePlan(apply=True, named=True)
        return MirrorServicePlan(apply=True, wait=grace - age)
    if not exists:
        return MirrorServicePlan()
    if named_before:
        return MirrorServicePlan(wait=grace)  # the route drops it now; delete it a grace later
    quiet = None if route_applied_at is None else now - route_applied_at
    if quiet is None or quiet >= grace:
        return MirrorServicePlan(delete=True)
    return MirrorServicePlan(wait=grace - quiet)
