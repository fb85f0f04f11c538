"""The serving controllers pick up what happened while the operator was down (resume handlers and
indices filled from the initial listing; nothing is remembered in the process)."""

from __future__ import annotations

import pytest
from servekit import FAILURE, Serving, inference_service, model_version

from support.wait import wait_for

pytestmark = pytest.mark.integration


def test_work_done_while_the_operator_was_down_is_picked_up(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    # v2 is promoted as soon as its canary starts: this test is about the restart, not the analysis.
    serving.create(inference_service("iris", "iris", promote="v2"))
    serving.wait_phase("inferenceservices", "iris", "Ready")
    operator.kill()
    try:
        serving.create(model_version("iris", "v2"))
        serving.create(model_version("iris", "v3", exit_code=1, message=FAILURE))
        serving.create(inference_service("pinned", "iris", "v1"))
    finally:
        operator.start()
    serving.wait_phase("modelversions", "iris-v3", "Failed")
    # iris was Ready on v1 before the restart: wait for the switch, not for the phase it already had.
    wait_for(
        lambda: (
            (s := serving.status("inferenceservices", "iris")).get("currentVersion") == "v2"
            and s.get("phase") == "Ready"
        ),
        timeout=60,
        what="inferenceservices/iris Ready on v2",
        seen=lambda: serving.status("inferenceservices", "iris"),
    )
    assert serving.wait_phase("inferenceservices", "pinned", "Ready")["currentVersion"] == "v1"
    # These too were different before the restart: bounded waits for the new state, not one look.
    wait_for(
        lambda: sorted(serving.deployment_names()) == ["iris-v2", "pinned-v1"],
        timeout=30,
        what="iris-v1's Deployment replaced by iris-v2 beside pinned-v1",
        seen=serving.deployment_names,
    )
    wait_for(
        lambda: serving.status("modelversions", "iris-v1").get("servedBy") == ["pinned"],
        timeout=30,
        what="iris-v1 served by pinned only",
        seen=lambda: serving.status("modelversions", "iris-v1"),
    )
