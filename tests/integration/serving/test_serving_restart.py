"""The serving controllers pick up what happened while the operator was down (resume handlers and
indices filled from the initial listing; nothing is remembered in the process)."""

from __future__ import annotations

import pytest
from servekit import FAILURE, Serving, inference_service, model_version

pytestmark = pytest.mark.integration


def test_work_done_while_the_operator_was_down_is_picked_up(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    serving.create(inference_service("iris", "iris"))
    serving.wait_phase("inferenceservices", "iris", "Ready")
    operator.kill()
    try:
        serving.create(model_version("iris", "v2"))
        serving.create(model_version("iris", "v3", exit_code=1, message=FAILURE))
        serving.create(inference_service("pinned", "iris", "v1"))
    finally:
        operator.start()
    serving.wait_phase("modelversions", "iris-v3", "Failed")
    assert serving.wait_phase("inferenceservices", "iris", "Ready", timeout=60)["currentVersion"] == "v2"
    assert serving.wait_phase("inferenceservices", "pinned", "Ready")["currentVersion"] == "v1"
    assert sorted(serving.deployment_names()) == ["iris-v2", "pinned-v1"]
    assert serving.wait_phase("modelversions", "iris-v1", "Ready").get("servedBy") == ["pinned"]
