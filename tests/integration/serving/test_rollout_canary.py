"""Canary rollouts on the local cluster without Gateway API: the replica-ratio split behind the stable
Service, gated by a real Prometheus scraping real `lepton-serve` processes, one per version (the
KWOK replicas run no process; the test drives each version's server as its share of traffic would).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rolloutkit import (
    INTERVAL,
    Servers,
    annotate,
    canary,
    canary_service,
    load,
    reasons,
    replicas,
    rollout_operator,
    servers,
)
from servekit import Serving, model_version

from support.operator import Operator
from support.prometheus import Prometheus
from support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME = "iris"
GATEWAY = {"gateway": {"name": "public"}, "hostnames": ["iris.example.com"]}


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str,
    lepton_crds: list[str],
    prometheus: Prometheus,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    with rollout_operator(kubeconfig, prometheus, tmp_path_factory.mktemp("operator") / "op.log") as op:
        yield op


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture
def versions(artifacts: Path, prometheus: Prometheus, namespace: str) -> Iterator[Servers]:
    yield from servers(artifacts, prometheus, namespace, NAME)


def serving_v1(serving: Serving, **spec: object) -> None:
    serving.ready_version("iris", "v1")
    serving.create(canary_service(NAME, **spec))
    wait_for(
        lambda: serving.status("inferenceservices", NAME).get("readyReplicas") == 4,
        60,
        "4 ready replicas of v1",
        seen=lambda: serving.status("inferenceservices", NAME),
    )


def sizes(serving: Serving) -> tuple[int | None, int | None]:
    return replicas(serving, NAME, "v1"), replicas(serving, NAME, "v2")


def test_ratio_split_steps_then_promotes(kube, kubectl, namespace, operator, versions):
    serving = Serving(kube, namespace)
    served = kubectl("api-resources", "--api-group=gateway.networking.k8s.io", "-o", "name").stdout
    assert "httproutes" not in served, "this test needs a cluster without Gateway API"
    versions.start(("v1", True), ("v2", True))
    serving_v1(serving, traffic=GATEWAY)
    progressing = serving.condition("inferenceservices", NAME, "RolloutProgressing")
    assert "spec.traffic is not acted on" in progressing["message"], progressing

    seen: list[tuple[int | None, int | None]] = []

    def record() -> tuple[int | None, int | None]:
        now = sizes(serving)
        if not seen or seen[-1] != now:
            seen.append(now)
        return now

    with load(versions.url("v2")) as sent:
        serving.create(model_version("iris", "v2"))
        step1 = wait_for(
            lambda: record() == (3, 1) and (c := canary(serving, NAME)).get("weight") == 25 and c,
            60,
            "step 1: 1 of 4 replicas on v2, 25 % of traffic",
            seen=lambda: (seen, canary(serving, NAME)),
        )
        assert (step1["version"], step1["phase"], step1["step"]) == ("v2", "Progressing", 0), step1
        assert step1["replicaSplit"] == "1 of 4 replicas: 25 %", step1
        assert step1["nextAnalysisTime"], step1
        assert step1["nextStepTime"], step1
        selector = serving.core.read_namespaced_service(NAME, namespace).spec.selector
        assert "lepton.ai/version" not in selector, selector  # both versions behind the stable Service
        table = kubectl("get", "lisvc", NAME, "-n", namespace).stdout
        assert "CANARY" in table.splitlines()[0], table
        assert " 25 " in table, table
        wait_for(
            lambda: record() == (2, 2) and canary(serving, NAME).get("weight") == 50,
            60,
            "step 2: 2 and 2 replicas, 50 %",
            seen=lambda: (seen, canary(serving, NAME), serving.events(NAME)),
        )
        status = wait_for(
            lambda: (
                record() == (None, 4)
                and (s := serving.status("inferenceservices", NAME)).get("currentVersion") == "v2"
                and s
            ),
            90,
            "promoted: v2 at 4 replicas, v1 deleted",
            seen=lambda: (seen, canary(serving, NAME)),
        )
    assert set(sent.codes) == {200}, sent.codes
    assert "canary" not in status, status
    assert status["traffic"] == [{"version": "v2", "weight": 100}], status
    # Each step at the sizes its weight needs, never below 4 in all before the promotion.
    steps = [s for s in seen if s[0] is not None and s[1] is not None]
    assert (3, 1) in steps, seen
    assert (2, 2) in steps, seen
    assert all(a + b >= 4 for a, b in steps), seen
    assert serving.core.read_namespaced_service(NAME, namespace).spec.selector["lepton.ai/version"] == "v2"
    happened = reasons(serving, NAME)
    for reason in ("CanaryStarted", "CanaryStep", "CanaryPromoting", "CanaryPromoted"):
        assert reason in happened, happened
    assert happened.count("CanaryStep") == 2, happened


def test_a_bad_version_is_rolled_back_and_not_rolled_out_again(kube, namespace, operator, versions):
    serving = Serving(kube, namespace)
    versions.start(("v1", True), ("v2", False))
    serving_v1(serving)
    with load(versions.url("v2")) as sent:
        serving.create(model_version("iris", "v2"))
        rolled_back = wait_for(
            lambda: (c := canary(serving, NAME)).get("phase") == "RolledBack" and c,
            90,
            "v2 rolled back",
            seen=lambda: (sizes(serving), canary(serving, NAME)),
        )
        back_at = time.time()
    assert sent.codes.get(500, 0) > 0, sent.codes
    assert (rolled_back["weight"], rolled_back["reason"]) == (0, "AnalysisFailed"), rolled_back
    assert rolled_back["failedChecks"] == 2, rolled_back
    error_rate = next(m for m in rolled_back["analysis"]["metrics"] if m["name"] == "errorRate")
    assert (error_rate["result"], error_rate["value"], error_rate["max"]) == ("Fail", 1.0, 0.05), rolled_back
    # Two failed checks, one interval apart, after the first failing request (plus a scrape).
    assert back_at - sent.first[500] < 2 * INTERVAL + 10, (back_at, sent.first)
    status = serving.status("inferenceservices", NAME)
    assert status["currentVersion"] == "v1", status
    assert status["traffic"] == [{"version": "v1", "weight": 100}], status
    [failed] = status["failedVersions"]
    assert (failed["version"], failed["blocked"], failed["reason"]) == ("v2", True, "AnalysisFailed"), failed
    assert "errorRate 1" in failed["message"], failed
    degraded = serving.condition("inferenceservices", NAME, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "RolledBack"), degraded
    wait_for(lambda: sizes(serving) == (4, 0), 30, "v2 scaled to 0, v1 at 4", seen=lambda: sizes(serving))
    selector = serving.core.read_namespaced_service(NAME, namespace).spec.selector
    assert selector["lepton.ai/version"] == "v1", selector
    serving.wait_events(NAME, "RolledBack")

    # `latest` still resolves to v2, which failed: it is not rolled out again.
    deadline = time.monotonic() + 2 * INTERVAL  # a window in which a restarted rollout would show
    while time.monotonic() < deadline:
        assert sizes(serving) == (4, 0), sizes(serving)
        time.sleep(0.5)
    assert reasons(serving, NAME).count("CanaryStarted") == 1, serving.events(NAME)
    assert canary(serving, NAME)["phase"] == "RolledBack"

    # A newer version is rolled out.
    serving.create(model_version("iris", "v3"))
    wait_for(
        lambda: canary(serving, NAME).get("version") == "v3",
        60,
        "a rollout of v3",
        seen=lambda: canary(serving, NAME),
    )


def test_no_traffic_is_inconclusive_and_never_promotes(kube, namespace, operator, versions):
    serving = Serving(kube, namespace)
    versions.start(("v1", True), ("v2", True))
    serving_v1(serving)
    serving.create(model_version("iris", "v2"))
    state = wait_for(
        lambda: (c := canary(serving, NAME)).get("inconclusiveChecks", 0) >= 3 and c,
        60,
        "three inconclusive checks of v2 without traffic",
        seen=lambda: canary(serving, NAME),
    )
    assert state["analysis"]["result"] == "Inconclusive", state
    assert "fewer than minRequests 5" in state["analysis"]["message"], state
    # Its pause (5 s) is long over: without a passing check the step does not complete.
    assert (state["step"], state["phase"], state["passedChecks"]) == (0, "Progressing", 0), state
    assert serving.status("inferenceservices", NAME)["currentVersion"] == "v1"
    assert sizes(serving) == (3, 1)


def test_promote_abort_and_retry_annotations(kube, namespace, operator, versions):
    serving = Serving(kube, namespace)
    versions.start(("v1", True), ("v2", True), ("v3", True))
    serving_v1(serving)
    serving.create(model_version("iris", "v2"))
    wait_for(
        lambda: canary(serving, NAME).get("weight") == 25,
        60,
        "v2 at step 1",
        seen=lambda: canary(serving, NAME),
    )

    # A malformed value is refused in words (an annotation change alone must reach the operator).
    annotate(serving, NAME, {"lepton.ai/promote": "v2:next"})
    wait_for(
        lambda: "InvalidAnnotation" in reasons(serving, NAME),
        15,
        "an InvalidAnnotation event",
        seen=lambda: serving.events(NAME),
    )
    progressing = serving.condition("inferenceservices", NAME, "RolloutProgressing")
    assert "lepton.ai/promote: 'v2:next'" in progressing["message"], progressing
    # No traffic: only a promotion moves it on, and a promotion of another version does nothing.
    annotate(serving, NAME, {"lepton.ai/promote": "v9"})
    annotate(serving, NAME, {"lepton.ai/promote": "v2"})
    wait_for(
        lambda: serving.status("inferenceservices", NAME).get("currentVersion") == "v2",
        60,
        "v2 promoted by lepton.ai/promote",
        seen=lambda: (sizes(serving), canary(serving, NAME)),
    )
    serving.wait_events(NAME, "CanaryPromoted")

    serving.create(model_version("iris", "v3"))
    wait_for(lambda: canary(serving, NAME).get("version") == "v3", 60, "v3 rolling out")
    annotate(serving, NAME, {"lepton.ai/abort": "v3"})
    aborted = wait_for(
        lambda: (c := canary(serving, NAME)).get("phase") == "Aborted" and c,
        30,
        "v3 aborted by lepton.ai/abort",
        seen=lambda: canary(serving, NAME),
    )
    assert aborted["weight"] == 0, aborted
    status = serving.status("inferenceservices", NAME)
    assert [(f["version"], f["reason"]) for f in status["failedVersions"]] == [("v3", "RolloutAborted")]
    wait_for(lambda: replicas(serving, NAME, "v3") == 0, 30, "v3 scaled to 0")

    annotate(serving, NAME, {"lepton.ai/retry": "v3"})
    retried = wait_for(
        lambda: (c := canary(serving, NAME)).get("phase") == "Progressing" and c,
        30,
        "v3 rolling out again after lepton.ai/retry",
        seen=lambda: canary(serving, NAME),
    )
    assert (retried["version"], retried["retries"]) == ("v3", 1), retried
    serving.wait_events(NAME, "RolloutRetried")
    # The abort left in place names the first rollout of v3, not its retry.
    wait_for(lambda: replicas(serving, NAME, "v3") == 1, 30, "v3 at 1 replica again")
    assert canary(serving, NAME)["phase"] == "Progressing"
