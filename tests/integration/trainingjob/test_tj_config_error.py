"""What only the API server can judge at pod creation (an unknown PriorityClass, a Pod Security
policy) fails the TrainingJob with reason ConfigError and the API server's own message, after one
try per pod: no retry every few seconds of what cannot succeed."""

from __future__ import annotations

import pytest
from tjkit import Jobs, manifest

from support.wait import holds, wait_for

pytestmark = pytest.mark.integration

# The operator's resync retried a refused reconcile every 5 s before: the window spans two of those.
QUIET_SECONDS = 12


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def refusals(operator, namespace: str, name: str) -> int:
    return operator.log_path.read_text(errors="replace").count(f"{namespace}/{name}: the API server refused")


def test_tj_unknown_priority_class_is_a_config_error_tried_once(jobs, operator, namespace):
    jobs.create(manifest("prio", replicas=2, gpus=1, scheduling={"priorityClassName": "no-such-class"}))
    failed = wait_for(
        lambda: jobs.condition("prio", "Failed"), 60, "Failed", seen=lambda: jobs.status("prio")
    )
    assert failed["status"] == "True"
    assert failed["reason"] == "ConfigError"
    assert "no PriorityClass with name no-such-class was found" in failed["message"], failed
    assert jobs.phase("prio") == "Failed"
    tried = refusals(operator, namespace, "prio")
    assert 1 <= tried <= 2, f"{tried} refused creations for 2 workers"
    holds(
        lambda: refusals(operator, namespace, "prio") == tried and jobs.phase("prio") == "Failed",
        QUIET_SECONDS,
        "no further pod creation after ConfigError",
        seen=lambda: (refusals(operator, namespace, "prio"), jobs.status("prio")),
    )
    assert jobs.pods("prio") == []
    assert jobs.status("prio").get("restartCount", 0) == 0, "no restart budget spent on a config error"
    jobs.wait_events("prio", "ConfigError")


def test_tj_in_a_restricted_namespace_runs_and_a_privileged_template_is_a_config_error(
    jobs, kubectl, operator, namespace
):
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    jobs.create(manifest("plain", replicas=2, gpus=1))
    wait_for(lambda: jobs.phase("plain") == "Running", 60, "Running", seen=lambda: jobs.status("plain"))
    pod = jobs.pods("plain")[0]
    assert pod.spec.security_context.run_as_non_root is True
    assert pod.spec.containers[0].security_context.read_only_root_filesystem is True

    body = manifest("priv", replicas=1, gpus=1)
    body["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    jobs.create(body)
    failed = wait_for(
        lambda: jobs.condition("priv", "Failed"), 60, "Failed", seen=lambda: jobs.status("priv")
    )
    assert failed["reason"] == "ConfigError"
    assert 'violates PodSecurity "restricted:latest"' in failed["message"], failed
    assert "privileged" in failed["message"]
    assert refusals(operator, namespace, "priv") == 1
