"""Keeping worker pods off nodes with faulty GPUs: the required node affinity the builder adds (and
the preferred one for admission's node beside it: test_prefer_builder.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lepton.api.trainingjob import TrainingJob
from lepton.builders.avoid import avoiding
from lepton.builders.workers import construct_worker_pod


def not_in(*nodes: str) -> list[dict[str, Any]]:
    return [{"key": "metadata.name", "operator": "NotIn", "values": [n]} for n in nodes]


ZONE = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}
PREFERRED = [{"weight": 1, "preference": {"matchExpressions": [ZONE]}}]

CASES = [
    ("no faulty node: the spec is untouched", {"containers": []}, (), {"containers": []}),
    (
        "no affinity: one term with a rule per node",
        {},
        ("gpu-1", "gpu-3"),
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchFields": not_in("gpu-1", "gpu-3")}]
                    }
                }
            }
        },
    ),
    (
        "the user's terms are ORed: each gets the rules, their own expressions kept",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [ZONE]}, {"matchFields": not_in("x")}]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": PREFERRED,
                },
                "podAntiAffinity": {"k": "v"},
            }
        },
        ("gpu-1",),
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [ZONE], "matchFields": not_in("gpu-1")},
                            {"matchFields": not_in("x", "gpu-1")},
                        ]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": PREFERRED,
                },
                "podAntiAffinity": {"k": "v"},
            }
        },
    ),
]


@pytest.mark.parametrize(("scenario", "spec", "nodes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_avoiding(
    scenario: str, spec: dict[str, Any], nodes: tuple[str, ...], expected: dict[str, Any]
) -> None:
    before = repr(spec)
    assert avoiding(spec, nodes) == expected
    assert repr(spec) == before, "the template is not changed in place"


def test_worker_pods_avoid_and_prefer_the_nodes_given_and_nothing_else_changes() -> None:
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
    plain = construct_worker_pod(job, 1, 0)
    avoided = construct_worker_pod(job, 1, 0, avoid_nodes=("gpu-2",))
    terms = avoided["spec"].pop("affinity")["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {"nodeSelectorTerms": [{"matchFields": not_in("gpu-2")}]}
    assert avoided == plain
    packed = construct_worker_pod(job, 1, 0, avoid_nodes=("gpu-2",), prefer_node="gpu-5")
    node_affinity = packed["spec"]["affinity"]["nodeAffinity"]
    assert node_affinity.pop("preferredDuringSchedulingIgnoredDuringExecution") == [
        {
            "weight": 100,
            "preference": {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["gpu-5"]}]},
        }
    ]
    assert packed == construct_worker_pod(job, 1, 0, avoid_nodes=("gpu-2",)), "held nodes still avoided"
