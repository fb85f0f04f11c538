"""Which version `lepton rollout promote|abort|retry` annotates when none is named."""

from __future__ import annotations

import pytest

from lepton.cli.commands import canary_lines
from lepton.client.errors import UsageError
from lepton.client.rollout import annotation_patch, target_version


def isvc(canary: dict | None = None, version: str = "latest", current: str = "v1", annotations=None) -> dict:
    status = {"currentVersion": current, "phase": "RollingOut" if canary else "Ready", "canary": canary}
    meta = {"name": "web", "annotations": annotations or {}}
    return {"metadata": meta, "spec": {"model": {"name": "m", "version": version}}, "status": status}


@pytest.mark.parametrize("action", ["promote", "abort", "retry"])
def test_the_canary_version_by_default(action):
    assert target_version(isvc({"version": "v2", "weight": 20}), action) == "v2"


def test_retry_without_a_canary_takes_the_pinned_version_that_does_not_serve():
    assert target_version(isvc(version="v2", current="v1"), "retry") == "v2"


@pytest.mark.parametrize(
    ("action", "spec_version"), [("promote", "v2"), ("retry", "latest"), ("retry", "v1")]
)
def test_nothing_to_act_on_says_to_name_the_version(action, spec_version):
    with pytest.raises(UsageError) as exc:
        target_version(isvc(version=spec_version), action)
    assert f"lepton rollout {action} web --version V" in exc.value.hint


def test_annotation_patch():
    assert annotation_patch("promote", "v2") == {"metadata": {"annotations": {"lepton.ai/promote": "v2"}}}
    with pytest.raises(UsageError):
        annotation_patch("pause", "v2")


def test_status_shows_canary_traffic_and_pending_requests():
    canary = {"version": "v2", "weight": 20, "step": 0, "failedChecks": 1, "message": "error rate 0.2 > 0.05"}
    obj = isvc(canary, annotations={"lepton.ai/abort": "v2", "other": "x"})
    obj["status"]["traffic"] = [{"version": "v1", "weight": 80}, {"version": "v2", "weight": 20}]
    assert canary_lines(obj) == [
        "lisvc/web: serving v1, phase RollingOut",
        "canary v2: 20% of traffic, step 0",
        "  failed checks: 1",
        "  last analysis: error rate 0.2 > 0.05",
        "traffic: v1 80%, v2 20%",
        "requested: lepton.ai/abort=v2",
    ]
    assert canary_lines(isvc())[1] == "no rollout in progress"
