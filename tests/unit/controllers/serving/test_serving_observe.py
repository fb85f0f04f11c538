"""What the serving controllers read from Jobs, pods, Deployments and Services, and their small
helpers for status patches and apply bookkeeping."""

from __future__ import annotations

from lepton.controllers.kit.objects import fresher
from lepton.controllers.kit.status import status_patch
from lepton.controllers.serving.observe import deployment_state, service_state, verify_job, verify_pod
from lepton.policies.inference import DeploymentState, needs_apply
from lepton.policies.verification import VerifyJob, VerifyPod


def test_job_conditions():
    failing = {
        "metadata": {"name": "j"},
        "status": {
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "message": "too long",
                }
            ]
        },
    }
    assert verify_job(failing) == VerifyJob("j", failed=True, reason="DeadlineExceeded", message="too long")
    done = {"metadata": {"name": "j"}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert verify_job(done) == VerifyJob("j", complete=True)
    assert verify_job({"metadata": {"name": "j"}}) == VerifyJob("j")


def test_pod_termination_messages():
    pod = {
        "metadata": {"name": "p"},
        "status": {
            "phase": "Failed",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "initContainerStatuses": [
                {"name": "fetch", "state": {"terminated": {"exitCode": 1, "message": "no manifest"}}}
            ],
            "containerStatuses": [{"name": "verify", "state": {"waiting": {"reason": "PodInitializing"}}}],
        },
    }
    assert verify_pod(pod) == VerifyPod("p", "Failed", init_failed=True, init_message="no manifest")
    done = {
        "metadata": {"name": "p"},
        "status": {
            "phase": "Succeeded",
            "initContainerStatuses": [{"name": "fetch", "state": {"terminated": {"exitCode": 0}}}],
            "containerStatuses": [
                {"name": "verify", "state": {"terminated": {"exitCode": 0, "message": "{}"}}}
            ],
        },
    }
    assert verify_pod(done) == VerifyPod("p", "Succeeded", 0, "{}", scheduled=False)


def test_deployment_and_service_state():
    body = {
        "metadata": {
            "name": "iris-v1",
            "generation": 3,
            "labels": {"lepton.ai/version": "v1", "lepton.ai/modelversion-uid": "u"},
            "annotations": {"lepton.ai/applied-hash": "h"},
        },
        "spec": {"replicas": 2},
        "status": {
            "replicas": 3,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "updatedReplicas": 2,
            "observedGeneration": 3,
        },
    }
    assert deployment_state(body) == DeploymentState(
        "iris-v1",
        "v1",
        "u",
        replicas=2,
        current=3,
        ready=2,
        available=2,
        updated=2,
        generation=3,
        observed_generation=3,
        applied_hash="h",
    )
    assert deployment_state({"metadata": {"name": "x"}}) is None
    svc = service_state({"metadata": {"name": "iris"}, "spec": {"selector": {"lepton.ai/version": "v2"}}})
    assert (svc.selects, svc.applied_hash) == ("v2", "")


def test_status_changes_touch_only_managed_keys():
    current = {"phase": "Ready", "canary": {"weight": 20}, "url": "u"}
    assert status_patch(current, {"phase": "Ready", "url": "u"}) is None
    assert status_patch(current, {"phase": "Degraded", "currentVersion": None, "url": None}) == {
        "phase": "Degraded",
        "url": None,
    }


def test_fresher_and_needs_apply():
    ours = {"metadata": {"uid": "a", "resourceVersion": "12"}, "status": {"phase": "Ready"}}
    watched = {"metadata": {"uid": "a", "resourceVersion": "11"}}
    assert fresher(watched, ours) is ours
    newer = {"metadata": {"uid": "a", "resourceVersion": "13"}}
    assert fresher(newer, ours) is newer
    assert fresher({"metadata": {"uid": "b", "resourceVersion": "1"}}, ours)["metadata"]["uid"] == "b"
    assert needs_apply("h1", None, None)
    assert needs_apply("h1", "h0", None)
    assert not needs_apply("h1", "h0", "h1")  # just applied; the watch has not caught up
    assert not needs_apply("h1", "h1", "h1")
    assert needs_apply("h1", None, "h1")  # deleted behind our back
