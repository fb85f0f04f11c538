"""The required node affinity the builder adds: worker pods kept off nodes (faulty GPUs, held for a
reservation) and pinned to the node admission placed them on (under a gang scheduler only preferred
there: test_prefer_builder.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lepton.api.trainingjob import TrainingJob
from lepton.builders.required import avoiding, pinning
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


def node_is(node: str) -> dict[str, Any]:
    return {"key": "metadata.name", "operator": "In", "values": [node]}


PIN_CASES = [
    ("no node placed: the spec is untouched", {"containers": []}, None, {"containers": []}),
    (
        "no affinity: one term requiring the node",
        {},
        "gpu-3",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchFields": [node_is("gpu-3")]}]
                    }
                }
            }
        },
    ),
    (
        "each of the user's ORed terms also requires the node; preferred terms kept",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [ZONE]}, {"matchFields": not_in("x")}]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": PREFERRED,
                }
            }
        },
        "gpu-1",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [ZONE], "matchFields": [node_is("gpu-1")]},
                            {"matchFields": [*not_in("x"), node_is("gpu-1")]},
                        ]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": PREFERRED,
                }
            }
        },
    ),
]


@pytest.mark.parametrize(("scenario", "spec", "node", "expected"), PIN_CASES, ids=[c[0] for c in PIN_CASES])
def test_pinning(scenario: str, spec: dict[str, Any], node: str | None, expected: dict[str, Any]) -> None:
    before = repr(spec)
    assert pinning(spec, node) == expected
    assert repr(spec) == before, "the template is not changed in place"


JOB = {
    "apiVersion": "lepton.ai/v1alpha1",
    "kind": "TrainingJob",
    "metadata": {"name": "j", "namespace": "ns", "uid": "u"},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "trainer", "image": "i"}]}}},
}


def test_worker_pods_avoid_and_pin_to_the_nodes_given_and_nothing_else_changes() -> None:
    job = TrainingJob.model_validate(JOB)
    plain = construct_worker_pod(job, 1, 0)
    avoided = construct_worker_pod(job, 1, 0, avoid_nodes=("gpu-2",))
    terms = avoided["spec"].pop("affinity")["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {"nodeSelectorTerms": [{"matchFields": not_in("gpu-2")}]}
    assert avoided == plain
    packed = construct_worker_pod(job, 1, 0, avoid_nodes=("gpu-2",), place_on="gpu-5")
    required = packed["spec"].pop("affinity")["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert required == {"nodeSelectorTerms": [{"matchFields": [*not_in("gpu-2"), node_is("gpu-5")]}]}
    assert packed["metadata"].pop("annotations") == {"lepton.ai/pinned-node": "gpu-5"}, "marked as ours"
    assert packed == plain


def test_under_a_gang_scheduler_worker_pods_only_prefer_admissions_node() -> None:
    """A gang scheduler reports a waiting gang's pods Unschedulable: pinned, they would be unpinned."""
    job = TrainingJob.model_validate(JOB)
    packed = construct_worker_pod(job, 1, 0, pod_group="g", place_on="gpu-5")
    assert packed["spec"]["affinity"] == {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchFields": [node_is("gpu-5")]}}
            ]
        }
    }
    assert "lepton.ai/pinned-node" not in packed["metadata"].get("annotations", {})


UNPINNABLE = [
    (
        "required node affinity",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [ZONE]}]
                    }
                }
            }
        },
    ),
    (
        "required pod anti-affinity",
        {
            "affinity": {
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "x"}]}
            }
        },
    ),
    (
        "required pod affinity",
        {
            "affinity": {
                "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "x"}]}
            }
        },
    ),
    (
        "topology spread",
        {
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "x", "whenUnsatisfiable": "DoNotSchedule"}
            ]
        },
    ),
    ("a priority class in the template", {"priorityClassName": "high"}),
]


@pytest.mark.parametrize(("scenario", "extra"), UNPINNABLE, ids=[c[0] for c in UNPINNABLE])
def test_a_template_asking_what_admission_does_not_model_only_prefers_the_node(
    scenario: str, extra: dict[str, Any]
) -> None:
    """Its node could fail those for ever (or, with a priority, kube-scheduler would preempt there)."""
    body = {
        **JOB,
        "spec": {
            **JOB["spec"],
            "template": {"spec": {"containers": [{"name": "trainer", "image": "i"}], **extra}},
        },
    }
    pod = construct_worker_pod(TrainingJob.model_validate(body), 1, 0, place_on="gpu-5")
    preferred = pod["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[-1] == {"weight": 100, "preference": {"matchFields": [node_is("gpu-5")]}}
    assert "lepton.ai/pinned-node" not in pod["metadata"].get("annotations", {})
    assert pinned_in(pod) == []


def pinned_in(pod: dict[str, Any]) -> list[str]:
    required = ((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    return [
        v
        for t in required.get("nodeSelectorTerms") or []
        for f in t.get("matchFields") or []
        if f["operator"] == "In"
        for v in f["values"]
    ]


def test_a_job_with_a_priority_class_only_prefers_the_node_and_a_copied_pin_annotation_is_dropped() -> None:
    spec = {**JOB["spec"], "scheduling": {"priorityClassName": "high"}}
    spec["template"] = {
        "metadata": {"annotations": {"lepton.ai/pinned-node": "gpu-1", "a": "b"}},
        **JOB["spec"]["template"],
    }
    pod = construct_worker_pod(TrainingJob.model_validate({**JOB, "spec": spec}), 1, 0, place_on="gpu-5")
    assert pinned_in(pod) == []
    assert pod["metadata"]["annotations"] == {"a": "b"}, "only the operator's own pin is marked"
    unprioritised = construct_worker_pod(
        TrainingJob.model_validate({**JOB, "spec": {**spec, "scheduling": {}}}), 1, 0, place_on="gpu-5"
    )
    assert pinned_in(unprioritised) == ["gpu-5"]
    assert unprioritised["metadata"]["annotations"] == {"a": "b", "lepton.ai/pinned-node": "gpu-5"}
