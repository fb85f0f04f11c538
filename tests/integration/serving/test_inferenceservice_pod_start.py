"""A model-server pod that is scheduled and does not start names why in its service's conditions.

KWOK mounts no volume: a pod annotated sim.lepton.ai/hold-start stays Pending with no container
status, as a pod whose token Secret the kubelet cannot find does, and the test writes the Event the
kubelet would (FailedMount, its message as kubelet v1.35 words it) through the real API server. The
operator reads it, names the Secret in Ready, re-reads on a bounded timer (no loop of list requests)
and clears the condition by itself when the pod starts. The same on a real node, with the kubelet's
own Event: tests/e2e/test_token_secret.py."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from kubernetes import client
from servekit import Serving, inference_service

from lepton.policies.pod_start import RECHECK_SECONDS
from support.events import bound_pod, kubelet_event
from support.operator import Operator
from support.wait import wait_for

pytestmark = pytest.mark.integration

HOLD = {"lepton.ai/pod-annotations": json.dumps({"sim.lepton.ai/hold-start": "true"})}
SECRET = "api-token"
MISSING = f'MountVolume.SetUp failed for volume "api-tokens" : secret "{SECRET}" not found'
# What a Ready condition may take: the operator's first look comes STALL_SECONDS after scheduling,
# then one reconcile; generous for a loaded machine.
BOUND = 30


def held_service(serving: Serving, name: str, **spec: Any) -> dict[str, Any]:
    body = inference_service(name, "iris", **spec)
    body["metadata"]["annotations"] = HOLD
    return serving.create(body)


def scheduled_pod(serving: Serving, name: str) -> client.V1Pod:
    return bound_pod(serving.core, serving.namespace, f"lepton.ai/inferenceservice={name}")


def wait_reason(serving: Serving, name: str, reason: str) -> dict[str, Any]:
    """The service's Ready condition once its reason is ``reason``."""
    return wait_for(
        lambda: (c := serving.condition("inferenceservices", name, "Ready")).get("reason") == reason and c,
        BOUND,
        f"Ready of {name} to say {reason}",
        seen=lambda: serving.status("inferenceservices", name),
    )


def events_read(operator: Operator) -> float:
    """Lists of Events the operator has sent so far (its request counter)."""
    pattern = re.compile(
        r'^lepton_operator_api_requests_total\{code="200",resource="events",verb="get"\} ([0-9.e+]+)$',
        re.MULTILINE,
    )
    found = pattern.search(operator.metrics())
    return float(found.group(1)) if found else 0.0


def test_a_missing_token_secret_is_named_until_the_pod_starts(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    auth = {"tokenSecrets": [{"name": SECRET, "key": "token"}]}
    applied = time.monotonic()
    held_service(serving, "guarded", auth=auth)
    pod = scheduled_pod(serving, "guarded")
    kubelet_event(serving.core, pod, "FailedMount", MISSING)

    ready = wait_reason(serving, "guarded", "TokenSecretMissing")
    print(f"\napply -> Ready names the missing Secret: {time.monotonic() - applied:.1f}s (simulated kubelet)")
    assert ready["status"] == "False"
    assert f"Secret {SECRET} " in ready["message"]
    assert f"namespace {namespace}" in ready["message"]
    assert pod.metadata.name in ready["message"]
    assert serving.status("inferenceservices", "guarded")["phase"] == "Deploying"
    serving.wait_events("guarded", "TokenSecretMissing")

    # Stuck: Events are read again on a timer, once per recheck period, never in a loop.
    before, began = events_read(operator), time.monotonic()
    window = 2 * RECHECK_SECONDS + 1
    time.sleep(window)  # the measured interval itself, not a wait for something to happen
    reads = events_read(operator) - before
    assert 1 <= reads <= window / RECHECK_SECONDS + 1, (
        f"{reads} reads of Events in {time.monotonic() - began:.0f}s"
    )

    # The pod starts (on a real node: once the Secret exists; here once the hold goes): it clears.
    serving.core.patch_namespaced_pod(
        pod.metadata.name, namespace, {"metadata": {"annotations": {"sim.lepton.ai/hold-start": None}}}
    )
    ready = serving.wait_condition("inferenceservices", "guarded", "Ready", "True", timeout=BOUND)
    assert ready["reason"] == "ReplicasReady"
    conditions = serving.status("inferenceservices", "guarded")["conditions"]
    assert not [c for c in conditions if c["reason"] == "TokenSecretMissing"], conditions


def test_another_reason_the_kubelet_gives_is_passed_on(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    held_service(serving, "sandboxed")
    pod = scheduled_pod(serving, "sandboxed")
    message = 'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network "cbr0"'
    kubelet_event(serving.core, pod, "FailedCreatePodSandBox", message)
    ready = wait_reason(serving, "sandboxed", "PodStartFailed")
    assert f"pod {pod.metadata.name} cannot start: FailedCreatePodSandBox: {message}" == ready["message"]
