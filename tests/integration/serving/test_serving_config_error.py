"""Server settings the API server refuses only when it sees the Deployment (requests above limits)
make the InferenceService Failed with reason ConfigError and the API server's message, without a
retry loop."""

from __future__ import annotations

import pytest
from servekit import Serving, inference_service

from support.wait import holds, wait_for

pytestmark = pytest.mark.integration

QUIET_SECONDS = 12


def test_requests_above_limits_is_a_config_error_not_a_loop(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    server = {
        "image": "lepton/server:test",
        "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
    }
    serving.create(inference_service("greedy", "iris", server=server))
    status = lambda: serving.status("inferenceservices", "greedy")  # noqa: E731
    wait_for(lambda: status().get("phase") == "Failed", 60, "phase Failed", seen=status)
    ready = serving.condition("inferenceservices", "greedy", "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "ConfigError"
    assert "must be less than or equal to cpu limit" in ready["message"], ready
    assert serving.deployment_names() == []

    def refusals() -> int:
        log = operator.log_path.read_text(errors="replace")
        return log.count(f"the API server refused {namespace}/deployments/greedy-v1")

    tried = refusals()
    assert 1 <= tried <= 3, f"{tried} refused applies"
    holds(
        lambda: refusals() == tried and status().get("phase") == "Failed",
        QUIET_SECONDS,
        "no re-apply of the refused Deployment",
        seen=lambda: (refusals(), status()),
    )
    # Fixing the spec is picked up at once.
    serving.patch_spec("inferenceservices", "greedy", {"server": {"resources": {"requests": {"cpu": "1"}}}})
    wait_for(lambda: serving.deployment_names() == ["greedy-v1"], 30, "the Deployment", seen=status)
