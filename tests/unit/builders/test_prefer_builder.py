"""Packing worker pods where admission placed them: the preferred node affinity the builder adds."""

from __future__ import annotations

from typing import Any

import pytest

from lepton.api.trainingjob import TrainingJob
from lepton.builders.prefer import preferring
from lepton.builders.workers import construct_worker_pod


def on(node: str) -> dict[str, Any]:
    return {
        "weight": 100,
        "preference": {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]},
    }


ZONE = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}
USER_PREFERRED = {"weight": 7, "preference": {"matchExpressions": [ZONE]}}
REQUIRED = {"nodeSelectorTerms": [{"matchExpressions": [ZONE]}]}

CASES = [
    ("no node placed: the spec is untouched", {"containers": []}, None, {"containers": []}),
    (
        "no affinity: one preferred term for the node",
        {},
        "gpu-3",
        {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [on("gpu-3")]}}},
    ),
    (
        "the user's preferred and required terms and other affinities are kept",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": REQUIRED,
                    "preferredDuringSchedulingIgnoredDuringExecution": [USER_PREFERRED],
                },
                "podAntiAffinity": {"k": "v"},
            }
        },
        "gpu-1",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": REQUIRED,
                    "preferredDuringSchedulingIgnoredDuringExecution": [USER_PREFERRED, on("gpu-1")],
                },
                "podAntiAffinity": {"k": "v"},
            }
        },
    ),
]


@pytest.mark.parametrize(("scenario", "spec", "node", "expected"), CASES, ids=[c[0] for c in CASES])
def test_preferring(scenario: str, spec: dict[str, Any], node: str | None, expected: dict[str, Any]) -> None:
    before = repr(spec)
    assert preferring(spec, node) == expected
    assert repr(spec) == before, "the template is not changed in place"


def test_worker_pods_prefer_the_node_given_and_still_avoid_the_held_ones() -> None:
    job = TrainingJob.model_validate(
        {
            "apiVersion": "lepton.ai/v1alpha1",
            "kind": "TrainingJob",
            "metadata": {"name": "j", "namespace": "ns", "uid": "u"},
            "spec": {
                "replicas": 2,
                "template": {"spec": {"containers": [{"name": "trainer", "image": "i"}]}},
            },
        }
    )
    plain = construct_worker_pod(job, 1, 0, avoid_nodes=("gpu-2",))
    packed = construct_worker_pod(job, 1, 0, avoid_nodes=("gpu-2",), prefer_node="gpu-5")
    node_affinity = packed["spec"]["affinity"]["nodeAffinity"]
    assert node_affinity.pop("preferredDuringSchedulingIgnoredDuringExecution") == [on("gpu-5")]
    assert packed == plain, "the required anti-affinity to held nodes stays as it was"
    assert construct_worker_pod(job, 1, 0, prefer_node="gpu-5") == construct_worker_pod(
        job, 1, 0, prefer_node="gpu-5"
    ), "deterministic"
