"""Worker pods run under the restricted Pod Security profile by default, and a template relaxes it
only by saying so: whole pods, then the merge rules scenario by scenario."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lepton.api import TrainingJob
from lepton.builders.security import merged_container, merged_pod
from lepton.builders.workers import construct_worker_pod

RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
READ_ONLY = {**RESTRICTED, "readOnlyRootFilesystem": True}


def job(template_spec: dict[str, Any]) -> TrainingJob:
    return TrainingJob.model_validate(
        {
            "apiVersion": "lepton.ai/v1alpha1",
            "kind": "TrainingJob",
            "metadata": {"name": "mnist", "namespace": "ml", "uid": "uid-7"},
            "spec": {"replicas": 2, "template": {"spec": template_spec}},
        }
    )


def test_a_plain_template_gives_a_restricted_worker():
    pod = construct_worker_pod(
        job({"containers": [{"name": "trainer", "image": "lepton/trainer:dev"}]}), 1, 0
    )
    env = pod["spec"]["containers"][0].pop("env")
    assert [e["name"] for e in env][:2] == ["MASTER_ADDR", "PET_MASTER_ADDR"]
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "mnist-worker-1",
            "namespace": "ml",
            "labels": {
                "lepton.ai/job-name": "mnist",
                "lepton.ai/replica-index": "1",
                "lepton.ai/restart-attempt": "0",
            },
            "ownerReferences": [
                {
                    "apiVersion": "lepton.ai/v1alpha1",
                    "kind": "TrainingJob",
                    "name": "mnist",
                    "uid": "uid-7",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "trainer",
                    "image": "lepton/trainer:dev",
                    "securityContext": READ_ONLY,
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "volumeMounts": [{"name": "lepton-tmp", "mountPath": "/tmp"}],
                    # Rank 0's progress endpoint; declared on every worker (any may become rank 0).
                    "ports": [{"name": "metrics", "containerPort": 9400, "protocol": "TCP"}],
                }
            ],
            "volumes": [{"name": "lepton-tmp", "emptyDir": {}}],
            "securityContext": RESTRICTED_POD,
            "hostname": "mnist-worker-1",
            "subdomain": "mnist",
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 30,
        },
    }


def test_sidecars_and_init_containers_are_restricted_but_keep_a_writable_root():
    pod = construct_worker_pod(
        job(
            {
                "initContainers": [{"name": "download", "image": "busybox"}],
                "containers": [
                    {"name": "trainer", "image": "lepton/trainer:dev"},
                    {"name": "logs", "image": "fluent-bit"},
                ],
            }
        ),
        0,
        0,
    )
    spec = pod["spec"]
    assert spec["initContainers"] == [{"name": "download", "image": "busybox", "securityContext": RESTRICTED}]
    assert spec["containers"][1] == {"name": "logs", "image": "fluent-bit", "securityContext": RESTRICTED}
    assert spec["containers"][0]["securityContext"] == READ_ONLY


def test_a_template_that_relaxes_everything_gets_what_it_asked_for():
    relaxed_pod = {"runAsNonRoot": False, "runAsUser": 0, "seccompProfile": {"type": "Unconfined"}}
    relaxed = {
        "readOnlyRootFilesystem": False,
        "allowPrivilegeEscalation": True,
        "capabilities": {"drop": [], "add": ["NET_ADMIN"]},
    }
    pod = construct_worker_pod(
        job(
            {
                "securityContext": relaxed_pod,
                "containers": [{"name": "trainer", "image": "pytorch/pytorch", "securityContext": relaxed}],
            }
        ),
        0,
        0,
    )
    assert pod["spec"]["securityContext"] == relaxed_pod
    trainer = pod["spec"]["containers"][0]
    assert trainer["securityContext"] == relaxed
    assert "volumeMounts" not in trainer, "a writable root needs no /tmp volume"
    assert "volumes" not in pod["spec"]


def test_the_users_own_tmp_mount_is_kept():
    pod = construct_worker_pod(
        job(
            {
                "containers": [
                    {
                        "name": "trainer",
                        "image": "lepton/trainer:dev",
                        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
                    }
                ],
                "volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}],
            }
        ),
        0,
        0,
    )
    assert pod["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp"}]


# (scenario, the template's container securityContext, read-only root, expected)
CONTAINER_CASES: list[tuple[str, dict[str, Any] | None, bool, dict[str, Any]]] = [
    ("nothing set", None, True, READ_ONLY),
    ("a sidecar", None, False, RESTRICTED),
    (
        "a user id is added to the defaults",
        {"runAsUser": 1234},
        True,
        {**READ_ONLY, "runAsUser": 1234},
    ),
    (
        "an added capability keeps drop ALL",
        {"capabilities": {"add": ["NET_BIND_SERVICE"]}},
        True,
        {**READ_ONLY, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
    ),
    (
        "the user's drop list wins",
        {"capabilities": {"drop": ["NET_RAW"]}},
        False,
        {**RESTRICTED, "capabilities": {"drop": ["NET_RAW"]}},
    ),
    (
        # The API server refuses allowPrivilegeEscalation: false with privileged: true.
        "privileged keeps its escalation",
        {"privileged": True},
        True,
        {"capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True, "privileged": True},
    ),
    (
        # ...and with CAP_SYS_ADMIN added.
        "SYS_ADMIN keeps its escalation",
        {"capabilities": {"add": ["SYS_ADMIN"]}},
        False,
        {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}},
    ),
    (
        "an explicit writable root",
        {"readOnlyRootFilesystem": False},
        True,
        {**RESTRICTED, "readOnlyRootFilesystem": False},
    ),
]


@pytest.mark.parametrize("case", CONTAINER_CASES, ids=[c[0] for c in CONTAINER_CASES])
def test_container_merge(case):
    _, user, read_only, expected = case
    before = copy.deepcopy(user)
    assert merged_container(user, read_only) == expected
    assert user == before, "the template is not modified"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (None, RESTRICTED_POD),
        ({"fsGroup": 2000}, {**RESTRICTED_POD, "fsGroup": 2000}),
        (
            {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
            {"runAsNonRoot": True, "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
        ),
        ({"runAsNonRoot": False}, {"runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}}),
    ],
)
def test_pod_merge(user, expected):
    assert merged_pod(user) == expected
