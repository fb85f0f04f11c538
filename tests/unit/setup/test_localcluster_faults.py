"""The simulated cluster's GPU-fault hook: the node status patch it sends (applied for real by the
integration tests, tests/integration/trainingjob/test_tj_gpu_faults.py)."""

from __future__ import annotations

from typing import Any

import pytest

from localcluster.faults import fault_patch

NOW, EARLIER = "2026-01-01T00:01:00Z", "2026-01-01T00:00:00Z"


def node(condition: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "status": {
            "capacity": {"nvidia.com/gpu": "8"},
            "allocatable": {"nvidia.com/gpu": "8"},
            "conditions": [{"type": "Ready", "status": "True"}, *([condition] if condition else [])],
        }
    }


def test_fault_sets_the_condition_only() -> None:
    patch = fault_patch(node(), healthy_gpus=None, clear=False, now=NOW)
    (condition,) = patch["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["lastTransitionTime"]) == (
        "GpuUnhealthy",
        "True",
        NOW,
    )
    assert set(patch["status"]) == {"conditions"}


def test_gpus_lowers_allocatable_only() -> None:
    patch = fault_patch(node(), healthy_gpus=6, clear=False, now=NOW)
    assert patch == {"status": {"allocatable": {"nvidia.com/gpu": "6"}}}
    with pytest.raises(ValueError, match="has 8 GPUs"):
        fault_patch(node(), healthy_gpus=9, clear=False, now=NOW)


def test_clear_restores_both_and_keeps_transition_times() -> None:
    sick = {"type": "GpuUnhealthy", "status": "True", "lastTransitionTime": EARLIER}
    patch = fault_patch(node(sick), healthy_gpus=None, clear=True, now=NOW)
    assert patch["status"]["allocatable"] == {"nvidia.com/gpu": "8"}
    assert patch["status"]["conditions"][0]["status"] == "False"
    assert patch["status"]["conditions"][0]["lastTransitionTime"] == NOW
    again = fault_patch(node(sick), healthy_gpus=None, clear=False, now=NOW)
    assert again["status"]["conditions"][0]["lastTransitionTime"] == EARLIER, "still True: no transition"
