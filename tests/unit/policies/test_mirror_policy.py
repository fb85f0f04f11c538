"""Shadow traffic: how the Gateway's class decides the way requests are mirrored (a table), and what
the rollout does when they cannot be (scenario tables on the rollout's fake clock)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rollout_kit import INCONCLUSIVE, PASS, SPEC, Sim, Tick, run

from lepton.builders.traffic import MirrorMode
from lepton.policies.mirror import (
    PERCENTAGE_MIRROR,
    REQUEST_MIRROR,
    TRAEFIK_CONTROLLER,
    GatewayFacts,
    MirrorServicePlan,
    choose_mirror,
    mirror_service_plan,
)
from lepton.policies.rollout_state import Step

BOTH = frozenset({REQUEST_MIRROR, PERCENTAGE_MIRROR, "HTTPRoute"})
# What Traefik v3.6.12 publishes: its extended HTTPRoute features, no mirror among them.
TRAEFIK_FEATURES = frozenset({"HTTPRoute", "HTTPRouteQueryParamMatching", "HTTPRoutePortRedirect"})
ENVOY = "gateway.envoyproxy.io/gatewayclass-controller"


def facts(
    controller: str = ENVOY, features: frozenset[str] | None = BOTH, traefik: bool = False
) -> GatewayFacts:
    return GatewayFacts("infra/public", "cls", controller, features, traefik)


@pytest.mark.parametrize(
    ("given", "percent", "mode", "says"),
    [
        # The class lists both features: Gateway API's own filter, whoever implements it.
        (facts(), 50, MirrorMode.FILTER, ""),
        (facts(TRAEFIK_CONTROLLER, BOTH, traefik=True), 50, MirrorMode.FILTER, ""),
        # At 100 % the filter needs no percent, so only the first feature.
        (facts(features=frozenset({REQUEST_MIRROR})), 100, MirrorMode.FILTER, ""),
        (
            facts(features=frozenset({REQUEST_MIRROR})),
            50,
            MirrorMode.NONE,
            f"does not list {PERCENTAGE_MIRROR}",
        ),
        # Traefik (its features lack the mirror) with its TraefikService kind served.
        (facts(TRAEFIK_CONTROLLER, TRAEFIK_FEATURES, traefik=True), 50, MirrorMode.TRAEFIK_SERVICE, ""),
        (facts(TRAEFIK_CONTROLLER, None, traefik=True), 50, MirrorMode.TRAEFIK_SERVICE, ""),
        # Traefik without its CRD provider's kinds: nothing to mirror with.
        (
            facts(TRAEFIK_CONTROLLER, TRAEFIK_FEATURES),
            50,
            MirrorMode.NONE,
            f"does not list {REQUEST_MIRROR} and {PERCENTAGE_MIRROR} in status.supportedFeatures, and "
            "traefikservices.traefik.io (Traefik's own mirroring) is not served",
        ),
        # TraefikService served, but the class is another controller's: never Traefik's objects.
        (facts(ENVOY, TRAEFIK_FEATURES, traefik=True), 50, MirrorMode.NONE, "does not list"),
        # A class that publishes nothing cannot be relied on.
        (facts(features=None), 50, MirrorMode.NONE, "publishes no status.supportedFeatures"),
        (
            GatewayFacts("infra/public", problem="Gateway infra/public not found"),
            50,
            MirrorMode.NONE,
            "Gateway infra/public not found: mirrorPercent is not acted on",
        ),
    ],
)
def test_the_gateway_class_decides_how_to_mirror(
    given: GatewayFacts, percent: int, mode: MirrorMode, says: str
) -> None:
    choice = choose_mirror(given, percent)
    assert choice.mode is mode, choice
    assert says in choice.message, choice
    assert bool(choice.message) == (mode is MirrorMode.NONE), choice
    if mode is MirrorMode.NONE and not given.problem:
        assert f"GatewayClass cls (controller {given.controller}) of Gateway infra/public" in choice.message


WHY = "GatewayClass cls does not list HTTPRouteRequestMirror: mirrorPercent is not acted on"
SHADOW = replace(SPEC, steps=(Step(0, 60), Step(50, 60)), mirror_percent=50, deadline=300)
STARTED, STEP, HELD = "CanaryStarted", "CanaryStep", "MirrorUnsupported"


def test_a_shadow_step_nothing_is_mirrored_to_holds_and_never_promotes_on_silence() -> None:
    sim = Sim(spec=SHADOW, mirror_unsupported=WHY)
    run(
        sim,
        [
            # The candidate still starts (a promotion by hand needs it), but no mirror is written.
            Tick(0, phase="Holding", replicas={"v1": 4, "v2": 2}, mirror=None, events=(STARTED, HELD)),
            Tick(10, ready={"v2": 2}, phase="Holding", weights={"v1": 100}, mirror=None, events=(STEP,)),
            # No request reaches it: Inconclusive checks, the pause over, still step 0.
            Tick(40, check=INCONCLUSIVE, phase="Holding", step=0, events=()),
            Tick(70, check=INCONCLUSIVE, phase="Holding", step=0, progressing=HELD, events=()),
            # Past the deadline the hold still says why (the deadline would only say "no progress").
            Tick(400, phase="Holding", step=0, progressing=HELD, events=()),
            # Promoted by hand past the shadow step: the weighted step goes on without a mirror.
            Tick(401, annotations={"lepton.ai/promote": "v2:0"}, phase="Progressing", step=1, mirror=None),
        ],
    )
    assert sim.last is not None
    assert not sim.last.progressing.status or sim.last.progressing.reason.value != HELD


def test_the_hold_says_why_and_how_out() -> None:
    sim = Sim(spec=SHADOW, mirror_unsupported=WHY)
    run(sim, [Tick(0), Tick(10, ready={"v2": 2})])
    assert sim.last is not None
    progressing = sim.last.progressing
    assert (progressing.status, progressing.reason.value) == (False, HELD), progressing
    assert WHY in progressing.message, progressing
    [event] = [
        e for e in Sim(spec=SHADOW, mirror_unsupported=WHY).tick(Tick(0)).events if e.reason.value == HELD
    ]
    assert event.warning
    assert "shadow step 1 of v2 holds" in event.message
    assert "lepton.ai/promote: v2:0" in event.message
    assert WHY in event.message


def test_with_progress_deadline_abort_the_unmirrored_shadow_step_rolls_back() -> None:
    spec = replace(SHADOW, deadline_abort=True)
    run(
        Sim(spec=spec, mirror_unsupported=WHY),
        [
            Tick(0, phase="Holding"),
            Tick(10, ready={"v2": 2}),
            # The deadline counts from the end of the step's pause (70 s).
            Tick(369, phase="Holding"),
            Tick(371, phase="RolledBack", weights={"v1": 100}, blocked=("v2",)),
        ],
    )


def test_weighted_steps_go_on_without_the_mirror_and_say_so() -> None:
    spec = replace(SPEC, steps=(Step(20, 60),), mirror_percent=10)
    sim = Sim(spec=spec, mirror_unsupported=WHY)
    run(
        sim,
        [
            Tick(0, phase="Progressing", events=(STARTED, HELD), mirror=None),
            Tick(
                10,
                ready={"v2": 1},
                weights={"v1": 80, "v2": 20},
                mirror=None,
                progressing=STEP,
                events=(STEP,),
            ),
            Tick(40, check=PASS, mirror=None, events=()),
            Tick(70, check=PASS, phase="Promoting", events=("CanaryPromoting",)),
        ],
    )
    assert sim.last is not None
    assert WHY in sim.last.progressing.message


def test_where_the_gateway_can_mirror_the_shadow_step_mirrors_and_passes() -> None:
    run(
        Sim(spec=SHADOW),
        [
            Tick(0, phase="Progressing", events=(STARTED,), mirror=None),
            Tick(10, ready={"v2": 2}, weights={"v1": 100}, mirror=("v2", 50), progressing=STEP),
            Tick(40, check=PASS, step=0),
            Tick(70, check=PASS, step=1, phase="Progressing", mirror=("v2", 50)),
        ],
    )


G = 5.0  # the grace


@pytest.mark.parametrize(
    ("wanted", "exists", "created", "named", "applied", "now", "plan"),
    [
        # Wanted, not there yet: made now, named by the route a grace later (Traefik loads it first).
        (True, False, None, False, None, 100.0, MirrorServicePlan(apply=True, wait=G)),
        (True, True, 98.0, False, 90.0, 100.0, MirrorServicePlan(apply=True, wait=3.0)),
        (True, True, 95.0, False, 90.0, 100.0, MirrorServicePlan(apply=True, named=True)),
        # Named already: it stays named (kept up to date: the percent may change).
        (True, True, 99.0, True, 99.0, 100.0, MirrorServicePlan(apply=True, named=True)),
        # Deleted by hand while named: put back, still named (the route must not lose its backend).
        (True, False, None, True, 99.0, 100.0, MirrorServicePlan(apply=True, named=True)),
        # Not wanted and named: the route drops it now; deleted a grace later.
        (False, True, 50.0, True, 60.0, 100.0, MirrorServicePlan(wait=G)),
        # Not named any more: deleted a grace after the route was last applied.
        (False, True, 50.0, False, 98.0, 100.0, MirrorServicePlan(wait=3.0)),
        (False, True, 50.0, False, 95.0, 100.0, MirrorServicePlan(delete=True)),
        (False, True, 50.0, False, None, 100.0, MirrorServicePlan(delete=True)),  # no route left
        (False, False, None, False, 98.0, 100.0, MirrorServicePlan()),
    ],
)
def test_the_traefikservice_is_named_and_deleted_a_grace_apart_from_the_route(
    wanted: bool, exists: bool, created: float | None, named: bool, applied: float | None, now: float,
    plan: MirrorServicePlan,
) -> None:  # fmt: skip
    found = mirror_service_plan(
        wanted=wanted, exists=exists, created_at=created, named_before=named, route_applied_at=applied,
        now=now, grace=G,
    )  # fmt: skip
    assert found == plan
