"""ModelVersion verification on the local cluster: the Job, its simulated pod, the resulting phase."""

from __future__ import annotations

import json

import pytest
from servekit import DIGEST, FAILURE, Serving, model_version

from support.wait import wait_for

pytestmark = pytest.mark.integration


def test_completed_verification_makes_the_version_ready(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.create(model_version("iris", "v1"))
    status = serving.wait_phase("modelversions", "iris-v1", "Ready")
    assert status["digest"] == DIGEST
    assert status["observedGeneration"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "Verified", 1)
    job = serving.batch.read_namespaced_job("iris-v1-verify", namespace)
    assert job.spec.backoff_limit == 0
    assert job.metadata.owner_references[0].name == "iris-v1"
    container = job.spec.template.spec.containers[0]
    assert container.command[:2] == ["lepton-serve", "--verify"]
    assert container.command[-2:] == ["--expect-digest", DIGEST]
    assert job.spec.template.spec.init_containers[0].command[:4] == [
        "lepton-serve",
        "fetch",
        "--source",
        "file:///models/iris/v1",
    ]
    serving.wait_events("iris-v1", "Verifying", "Verified")


@pytest.mark.parametrize(
    ("message", "reason", "text"),
    [
        (FAILURE, "DigestMismatch", "digest mismatch: expected sha256:00"),
        ("cannot load or run the model: RuntimeError: bad", "LoadFailed", "cannot load or run the model"),
        (None, "VerificationFailed", "failed with exit code 1"),
    ],
    ids=["digest-mismatch-json", "load-failure-text", "no-message"],
)
def test_failed_verification_gives_the_reason(kube, namespace, operator, message, reason, text):
    serving = Serving(kube, namespace)
    serving.create(model_version("iris", "bad", exit_code=1, message=message))
    status = serving.wait_phase("modelversions", "iris-bad", "Failed")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == reason
    assert text in ready["message"]
    verified = next(c for c in status["conditions"] if c["type"] == "Verified")
    assert (verified["status"], verified["reason"]) == ("False", reason)
    serving.wait_events("iris-bad", reason)
    warnings = [(r, m) for t, r, m in serving.events("iris-bad") if t == "Warning"]
    assert any(r == reason and text in m for r, m in warnings), warnings


def test_verifying_until_the_pod_finishes(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.create(
        model_version(
            "iris",
            "slow",
            exit_code=0,
            after="4s",
            message=json.dumps(
                {"verified": True, "digest": DIGEST, "format": "torch-export", "sizeBytes": 1234}
            ),
        )
    )
    verifying = serving.wait_phase("modelversions", "iris-slow", "Verifying", timeout=10)
    assert next(c for c in verifying["conditions"] if c["type"] == "Ready")["status"] == "False"
    status = serving.wait_phase("modelversions", "iris-slow", "Ready")
    assert status["sizeBytes"] == 1234
    wait_for(
        lambda: serving.get("modelversions", "iris-slow")["status"].get("verifiedTime"),
        timeout=5,
        what="verifiedTime",
    )
