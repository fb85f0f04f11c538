"""InferenceService version resolution on the local cluster: latest, rollover, invalid references."""

from __future__ import annotations

import pytest
from servekit import FAILURE, Serving, inference_service, model_version

from support.wait import wait_for

pytestmark = pytest.mark.integration


def test_latest_follows_a_newer_ready_version_without_downtime(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    # The canary of v2 is promoted at once (no Prometheus here to analyse it).
    serving.create(inference_service("iris", "iris", replicas=2, promote="v2"))
    serving.wait_phase("inferenceservices", "iris", "Ready")
    wait_for(
        lambda: serving.status("inferenceservices", "iris")["readyReplicas"] == 2,
        timeout=30,
        what="two ready replicas",
    )
    outages: list[str] = []

    def ready_of(version: str) -> int:
        try:
            found = serving.apps.read_namespaced_deployment(f"iris-{version}", namespace)
        except Exception:
            return 0
        return int(found.status.ready_replicas or 0)

    def switched() -> bool:
        # Whatever the Service selects (one version, or both while the canary runs without Gateway
        # API) must have ready pods behind it, at every look.
        selected = serving.core.read_namespaced_service("iris", namespace).spec.selector.get(
            "lepton.ai/version"
        )
        if not sum(ready_of(v) for v in ([selected] if selected else ["v1", "v2"])):
            outages.append(selected or "both")
        return selected == "v2" and serving.deployment_names() == ["iris-v2"]

    serving.create(model_version("iris", "v2"))
    wait_for(
        switched,
        timeout=60,
        what="Service on v2 and iris-v1 deleted",
        interval=0.1,
        seen=lambda: (serving.deployment_names(), serving.status("inferenceservices", "iris")),
    )
    assert outages == []
    status = serving.wait_phase("inferenceservices", "iris", "Ready")
    assert status["currentVersion"] == "v2"
    assert status["traffic"] == [{"version": "v2", "weight": 100}]
    serving.wait_events("iris", "TrafficSwitched", "DeploymentDeleted")


def test_latest_ignores_failed_and_verifying_versions(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    serving.create(model_version("iris", "v3", exit_code=1, message=FAILURE))
    serving.create(model_version("iris", "v10", exit_code=0, after="60s"))
    serving.wait_phase("modelversions", "iris-v3", "Failed")
    serving.create(inference_service("iris", "iris"))
    status = serving.wait_phase("inferenceservices", "iris", "Ready")
    assert status["currentVersion"] == "v1"
    assert serving.deployment_names() == ["iris-v1"]


@pytest.mark.parametrize(
    ("versions", "ref", "phase", "reason", "text"),
    [
        ([], "latest", "Pending", "ModelVersionNotFound", "no ModelVersion of model 'iris' exists"),
        (
            [("v1", None)],
            "v2",
            "Pending",
            "ModelVersionNotFound",
            "no ModelVersion of model 'iris' has version 'v2'",
        ),
        ([("v1", 1)], "v1", "Failed", "ModelVersionFailed", "iris-v1 is Failed: digest mismatch"),
        ([("v1", 1)], "latest", "Pending", "ModelVersionNotReady", "version failed verification"),
        ([("v1", "slow")], "latest", "Pending", "ModelVersionNotReady", "iris-v1 is Verifying"),
    ],
    ids=["unknown-model", "unknown-version", "pinned-failed", "latest-all-failed", "latest-verifying"],
)
def test_invalid_references_say_why(kube, namespace, operator, versions, ref, phase, reason, text):
    serving = Serving(kube, namespace)
    for version, outcome in versions:
        if outcome == "slow":
            serving.create(model_version("iris", version, exit_code=0, after="60s"))
            serving.wait_phase("modelversions", f"iris-{version}", "Verifying")
        elif outcome is None:
            serving.ready_version("iris", version)
        else:
            serving.create(model_version("iris", version, exit_code=outcome, message=FAILURE))
            serving.wait_phase("modelversions", f"iris-{version}", "Failed")
    serving.create(inference_service("svc", "iris", ref))
    wait_for(
        lambda: serving.condition("inferenceservices", "svc", "Ready").get("reason") == reason,
        timeout=30,
        what=f"Ready condition with reason {reason}",
        seen=lambda: serving.status("inferenceservices", "svc"),
    )
    status = serving.status("inferenceservices", "svc")
    ready = serving.condition("inferenceservices", "svc", "Ready")
    assert ready["status"] == "False"
    assert text in ready["message"]
    assert status["phase"] == phase
    assert serving.deployment_names() == []


def test_a_broken_reference_keeps_serving_the_current_version(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    serving.create(inference_service("iris", "iris", "v1"))
    serving.wait_phase("inferenceservices", "iris", "Ready")
    serving.patch_spec("inferenceservices", "iris", {"model": {"version": "v9"}})
    wait_for(
        lambda: serving.condition("inferenceservices", "iris", "Degraded").get("status") == "True",
        timeout=30,
        what="Degraded while v9 does not exist",
        seen=lambda: serving.status("inferenceservices", "iris"),
    )
    degraded = serving.condition("inferenceservices", "iris", "Degraded")
    assert degraded["reason"] == "ModelVersionNotFound"
    assert "still serving version v1" in degraded["message"]
    assert degraded["observedGeneration"] == 2
    assert serving.condition("inferenceservices", "iris", "Ready")["status"] == "True"
    assert serving.deployment_names() == ["iris-v1"]


def test_promotion_waits_until_the_new_version_is_available(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    serving.create(inference_service("iris", "iris", replicas=2, promote="v2"))
    serving.wait_phase("inferenceservices", "iris", "Ready")
    # No node has this label: new pods stay Pending, while surge-only updates keep v1's pods serving.
    serving.patch_spec(
        "inferenceservices", "iris", {"server": {"nodeSelector": {"lepton.ai/test": "nowhere"}}}
    )
    serving.create(model_version("iris", "v2"))
    wait_for(
        lambda: serving.condition("inferenceservices", "iris", "RolloutProgressing").get("status") == "True",
        timeout=30,
        what="a rollout in progress",
        seen=lambda: serving.status("inferenceservices", "iris"),
    )
    status = serving.status("inferenceservices", "iris")
    assert status["phase"] == "RollingOut"
    assert status["currentVersion"] == "v1"
    assert serving.condition("inferenceservices", "iris", "Ready")["status"] == "True"
    # Promoted, v2 must run in full before v1 goes; until then both are behind the Service.
    selector = serving.core.read_namespaced_service("iris", namespace).spec.selector
    assert "lepton.ai/version" not in selector, selector
    assert serving.apps.read_namespaced_deployment("iris-v1", namespace).status.ready_replicas == 2
    assert serving.deployment_names() == ["iris-v1", "iris-v2"]
    serving.patch_spec("inferenceservices", "iris", {"server": {"nodeSelector": None}})
    wait_for(
        lambda: serving.deployment_names() == ["iris-v2"],
        timeout=60,
        what="iris-v1 removed once v2 is available",
        seen=lambda: (serving.deployment_names(), serving.status("inferenceservices", "iris")),
    )
    assert serving.wait_phase("inferenceservices", "iris", "Ready")["currentVersion"] == "v2"
    progressing = serving.condition("inferenceservices", "iris", "RolloutProgressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "NoRollout")
