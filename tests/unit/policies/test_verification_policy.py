"""Where a ModelVersion's verification stands, from its Job and pod, and the status that says so."""

from __future__ import annotations

import json

import pytest

from lepton.api import ModelVersion, ModelVersionPhase
from lepton.api.modelversion import ModelVersionReason
from lepton.policies.verification import VerifyJob, VerifyPod, decide, status_of

DIGEST = "sha256:" + "0f" * 32
OTHER = "sha256:" + "aa" * 32
AT = "2026-01-01T00:00:00Z"


def mv(status: dict | None = None) -> ModelVersion:
    body = {
        "metadata": {"name": "iris-v1", "namespace": "ml", "uid": "u", "generation": 1},
        "spec": {"model": "iris", "version": "v1", "source": {"uri": "file:///m", "digest": DIGEST}},
    }
    if status:
        body["status"] = status
    return ModelVersion.model_validate(body)


def ok(**extra) -> str:
    return json.dumps({"verified": True, "digest": DIGEST, "format": "torch-export", **extra})


RUNNING = VerifyJob("iris-v1-verify")


@pytest.mark.parametrize(
    ("job", "pods", "phase", "reason", "message", "create"),
    [
        (None, [], "Verifying", "Verifying", "verification Job iris-v1-verify created", True),
        (RUNNING, [], "Verifying", "Verifying", "waiting for the verification pod to be scheduled", False),
        (
            RUNNING,
            [
                VerifyPod(
                    "p", "Pending", scheduled=False, unschedulable='persistentvolumeclaim "models" not found'
                )
            ],
            "Verifying",
            "Verifying",
            'scheduled (persistentvolumeclaim "models" not found)',
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Running")],
            "Verifying",
            "Verifying",
            "verifying: Job iris-v1-verify",
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Succeeded", 0, ok())],
            "Ready",
            "Verified",
            f"torch-export artifact {DIGEST}",
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Succeeded", 0, None)],
            "Ready",
            "Verified",
            "fetched, checked and loaded",
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Succeeded", 0, ok(digest=OTHER))],
            "Failed",
            "DigestMismatch",
            f"the artifact has {OTHER}",
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Succeeded", 0, ok(format="safetensors"))],
            "Failed",
            "UnsupportedFormat",
            "the artifact is safetensors",
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Failed", 1, '{"verified": false, "reason": "digest mismatch: expected a"}')],
            "Failed",
            "DigestMismatch",
            "digest mismatch: expected a",
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Failed", 1, "/m/model.pt2: cannot load torch.export program: boom")],
            "Failed",
            "LoadFailed",
            "cannot load torch.export program: boom",
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Failed", 1, '{"reason": "/m: unknown architecture \'x\'"}')],
            "Failed",
            "UnsupportedFormat",
            "unknown architecture",
            False,
        ),
        (
            RUNNING,
            [
                VerifyPod(
                    "p",
                    "Failed",
                    init_failed=True,
                    init_message='{"fetched": false, "reason": "/m: no manifest.json"}',
                )
            ],
            "Failed",
            "ArtifactNotFound",
            "cannot fetch file:///m: /m: no manifest.json",
            False,
        ),
        (
            RUNNING,
            [
                VerifyPod(
                    "p",
                    "Failed",
                    init_failed=True,
                    init_message=(
                        '{"fetched": false, "kind": "ArtifactUnreadable", '
                        '"reason": "/m/model.pt2: permission denied (reader uid 1000; owner 0, mode 0600)"}'
                    ),
                )
            ],
            "Failed",
            "ArtifactUnreadable",
            "permission denied (reader uid 1000",
            False,
        ),
        (
            RUNNING,
            [
                VerifyPod(
                    "p",
                    "Failed",
                    exit_code=1,
                    message='{"kind": "ArtifactUnreadable", "reason": "permission denied"}',
                )
            ],
            "Failed",
            "ArtifactUnreadable",
            "permission denied",
            False,
        ),
        (
            RUNNING,
            [
                VerifyPod(
                    "p",
                    "Failed",
                    init_failed=True,
                    init_message=(
                        '{"fetched": false, "kind": "SourceUnreachable", "reason": "s3://b/m: cannot '
                        'download: Could not connect to the endpoint URL: \\"http://s3.local/b/m\\""}'
                    ),
                )
            ],
            "Failed",
            "SourceUnreachable",
            "cannot fetch file:///m: s3://b/m: cannot download: Could not connect to the endpoint URL",
            False,
        ),
        (
            RUNNING,
            # A foreign verifier's JSON cut at the kubelet's 4096 bytes: the text is the reason.
            [VerifyPod("p", "Failed", 1, ('{"verified": false, "reason": "' + "x" * 5000)[:4096])],
            "Failed",
            "LoadFailed",
            '{"verified": false, "reason": "xxx',
            False,
        ),
        (
            RUNNING,
            [VerifyPod("p", "Failed", 137)],
            "Failed",
            "VerificationFailed",
            "failed with exit code 137",
            False,
        ),
        (
            VerifyJob(
                "j", failed=True, reason="DeadlineExceeded", message="Job was active longer than specified"
            ),
            [],
            "Failed",
            "VerificationTimedOut",
            "Job was active longer",
            False,
        ),
        (VerifyJob("j", complete=True), [], "Ready", "Verified", "fetched", False),
    ],
    ids=[
        "no-job-yet",
        "job-without-pod",
        "pod-unscheduled",
        "pod-running",
        "succeeded-with-result",
        "succeeded-without-message",
        "reported-digest-differs",
        "reported-format-differs",
        "digest-mismatch",
        "load-failure-text",
        "unknown-architecture",
        "fetch-failed-in-init-container",
        "fetch-refused-the-file",
        "verify-refused-the-file",
        "fetch-endpoint-down",
        "truncated-json-message",
        "killed-without-message",
        "job-deadline",
        "job-complete-pod-gone",
    ],
)
def test_decide(job, pods, phase, reason, message, create):
    verdict = decide(mv(), job, pods, "iris-v1-verify")
    assert verdict.phase == ModelVersionPhase(phase)
    assert verdict.reason == reason
    assert verdict.reason in set(ModelVersionReason), "a reason written must be one the API documents"
    assert message in verdict.message
    assert verdict.create_job is create


def test_ready_status_has_digest_size_conditions_and_served_by():
    verdict = decide(mv(), RUNNING, [VerifyPod("p", "Succeeded", 0, ok(sizeBytes=99))], "j")
    status = status_of(mv(), verdict, ["b", "a", "b"], AT)
    conditions = {c["type"]: c for c in status.pop("conditions")}
    assert status == {
        "phase": "Ready",
        "digest": DIGEST,
        "sizeBytes": 99,
        "verifiedTime": AT,
        "servedBy": ["a", "b"],
        "observedGeneration": 1,
    }
    assert conditions["Ready"] == {
        "type": "Ready",
        "status": "True",
        "reason": "Verified",
        "message": verdict.message,
        "observedGeneration": 1,
        "lastTransitionTime": AT,
    }
    assert conditions["Verified"]["status"] == "True"


def test_verifying_status_is_unknown_then_finished_status_is_kept():
    verifying = status_of(mv(), decide(mv(), None, [], "j"), [], AT)
    assert {c["type"]: c["status"] for c in verifying["conditions"]} == {
        "Verified": "Unknown",
        "Ready": "False",
    }
    ready = status_of(mv(), decide(mv(), RUNNING, [VerifyPod("p", "Succeeded", 0, ok())], "j"), [], AT)
    later = status_of(mv(ready), None, ["svc"], "2026-02-02T00:00:00Z")
    assert later == {**ready, "servedBy": ["svc"]}
