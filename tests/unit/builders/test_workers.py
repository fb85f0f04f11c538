"""Worker pods, the headless Service and PodGroups built from a TrainingJob."""

from __future__ import annotations

from typing import Any

import pytest

from lepton.api import TrainingJob
from lepton.builders.env import reserved_env_violation
from lepton.builders.podgroup import GangScheduler, construct_pod_group, gang_scheduler
from lepton.builders.workers import construct_service, construct_worker_pod


def job(
    env: list[dict[str, str]] | None = None, volumes: list[dict[str, Any]] | None = None, **spec: Any
) -> TrainingJob:
    template = spec.pop(
        "template",
        {
            "metadata": {"labels": {"team": "vision"}, "annotations": {"sim.lepton.ai/exit-code": "0"}},
            "spec": {
                "nodeSelector": {"nvidia.com/gpu.product": "H100"},
                "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                "affinity": {"podAntiAffinity": {}},
                "containers": [
                    {
                        "name": "trainer",
                        "image": "lepton/trainer:dev",
                        "env": [{"name": "EPOCHS", "value": "3"}, *(env or [])],
                        "resources": {"limits": {"nvidia.com/gpu": 8}},
                    },
                    {"name": "sidecar", "image": "busybox"},
                ],
                **({"volumes": volumes} if volumes else {}),
            },
        },
    )
    body = {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": "resnet", "namespace": "ml", "uid": "uid-1"},
        "spec": {"replicas": 4, "template": template, **spec},
    }
    return TrainingJob.model_validate(body)


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    trainer = next(c for c in pod["spec"]["containers"] if c["name"] == "trainer")
    return {e["name"]: e.get("value") for e in trainer["env"]}


def test_identity_dns_and_ownership():
    pod = construct_worker_pod(job(), 2, 1)
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["name"] == "resnet-worker-2"
    assert meta["labels"] == {
        "team": "vision",
        "lepton.ai/job-name": "resnet",
        "lepton.ai/replica-index": "2",
        "lepton.ai/restart-attempt": "1",
    }
    assert meta["annotations"] == {"sim.lepton.ai/exit-code": "0"}
    assert meta["ownerReferences"][0] | {} == {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "name": "resnet",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert (spec["hostname"], spec["subdomain"], spec["restartPolicy"]) == (
        "resnet-worker-2",
        "resnet",
        "Never",
    )
    assert spec["terminationGracePeriodSeconds"] == 30


def test_user_scheduling_fields_and_gpus_are_kept():
    spec = construct_worker_pod(job(), 0, 0)["spec"]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "H100"}
    assert spec["tolerations"][0]["key"] == "kwok.x-k8s.io/node"
    assert spec["affinity"] == {"podAntiAffinity": {}}
    trainer = spec["containers"][0]
    assert trainer["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert (trainer["terminationMessagePath"], trainer["terminationMessagePolicy"]) == (
        "/dev/termination-log",
        "FallbackToLogsOnError",
    )
    assert "env" not in spec["containers"][1], "only the trainer gets the rendezvous environment"


ENV_CASES = [
    (
        "static 4 x 8 GPUs",
        {},
        3,
        {
            "MASTER_ADDR": "resnet-worker-0.resnet.ml.svc",
            "PET_MASTER_ADDR": "resnet-worker-0.resnet.ml.svc",
            "MASTER_PORT": "29500",
            "WORLD_SIZE": "32",
            "NNODES": "4",
            "PET_NNODES": "4",
            "NODE_RANK": "3",
            "PET_NODE_RANK": "3",
            "NPROC_PER_NODE": "8",
            "PET_NPROC_PER_NODE": "8",
            "LEPTON_JOB_NAME": "resnet",
            "LEPTON_NAMESPACE": "ml",
            "LEPTON_RESTART_ATTEMPT": "0",
            "EPOCHS": "3",
        },
    ),
    ("nprocPerNode overrides GPUs", {"nprocPerNode": 2}, 0, {"WORLD_SIZE": "8", "PET_NPROC_PER_NODE": "2"}),
    ("custom master port", {"masterPort": 23456}, 0, {"MASTER_PORT": "23456", "PET_MASTER_PORT": "23456"}),
    (
        "elastic c10d rendezvous",
        {"elastic": {"minReplicas": 2, "maxReplicas": 6, "maxRestarts": 5}},
        1,
        {
            "PET_NNODES": "2:6",
            "PET_RDZV_BACKEND": "c10d",
            "PET_RDZV_ENDPOINT": "resnet-worker-0.resnet.ml.svc:29500",
            "PET_RDZV_ID": "uid-1",
            "PET_MAX_RESTARTS": "5",
        },
    ),
    (
        "output and checkpoint",
        {
            "output": {"model": "resnet", "uri": "pvc://models/resnet"},
            "checkpoint": {"volume": "ckpt", "path": "/ckpt"},
        },
        0,
        {"LEPTON_OUTPUT_URI": "pvc://models/resnet", "LEPTON_CHECKPOINT_DIR": "/ckpt"},
    ),
]


@pytest.mark.parametrize("case", ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_environment(case):
    _, spec, index, expected = case
    tj = job(volumes=[{"name": "ckpt", "emptyDir": {}}], **spec)
    env = env_of(construct_worker_pod(tj, index, 0))
    assert {k: env.get(k) for k in expected} == expected
    if "elastic" not in spec:
        assert "PET_RDZV_BACKEND" not in env


TMP = {"name": "lepton-tmp", "emptyDir": {}}
TMP_MOUNT = {"name": "lepton-tmp", "mountPath": "/tmp"}
OUTPUT_CASES = [
    # (scenario, template volumes, trainer mounts, expected volumes, expected mounts)
    (
        "claim mounted where the trainer writes pvc:// output",
        [],
        [],
        [TMP, {"name": "pvc-models", "persistentVolumeClaim": {"claimName": "models"}}],
        [TMP_MOUNT, {"name": "pvc-models", "mountPath": "/mnt/pvc/models"}],
    ),
    (
        "the user's volume for the claim is reused",
        [{"name": "store", "persistentVolumeClaim": {"claimName": "models"}}],
        [],
        [{"name": "store", "persistentVolumeClaim": {"claimName": "models"}}, TMP],
        [TMP_MOUNT, {"name": "store", "mountPath": "/mnt/pvc/models"}],
    ),
    (
        "the user's own mount at the path is kept",
        [{"name": "store", "persistentVolumeClaim": {"claimName": "models"}}],
        [{"name": "store", "mountPath": "/mnt/pvc/models", "subPath": "x"}],
        [{"name": "store", "persistentVolumeClaim": {"claimName": "models"}}, TMP],
        [{"name": "store", "mountPath": "/mnt/pvc/models", "subPath": "x"}, TMP_MOUNT],
    ),
]


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_pvc_output_is_mounted(case):
    _, volumes, mounts, expected_volumes, expected_mounts = case
    tj = job(volumes=volumes, output={"model": "resnet", "uri": "pvc://models/resnet/v1"})
    body = tj.model_dump(by_alias=True, exclude_none=True)
    if mounts:
        body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = mounts
    pod = construct_worker_pod(TrainingJob.model_validate(body), 0, 0)
    assert pod["spec"].get("volumes", []) == expected_volumes
    assert pod["spec"]["containers"][0].get("volumeMounts", []) == expected_mounts


@pytest.mark.parametrize("uri", [None, "s3://bucket/models/resnet", "file:///models/resnet"])
def test_no_claim_no_volume_but_tmp(uri):
    output = {"model": "resnet", **({"uri": uri} if uri else {})}
    pod = construct_worker_pod(job(output=output), 0, 0)
    assert pod["spec"]["volumes"] == [TMP]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [TMP_MOUNT]
    assert "volumeMounts" not in pod["spec"]["containers"][1]


def test_reserved_env_is_refused_with_names():
    message = reserved_env_violation(
        job(env=[{"name": "WORLD_SIZE", "value": "1"}, {"name": "MASTER_ADDR", "value": "x"}])
    )
    assert message is not None
    assert "MASTER_ADDR, WORLD_SIZE" in message
    assert reserved_env_violation(job()) is None


def test_headless_service():
    svc = construct_service(job())
    assert svc["metadata"]["name"] == "resnet"
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["publishNotReadyAddresses"] is True
    # Worker 0 alone: the rendezvous address is the one name looked up, and every selected worker
    # costs the endpoints controllers writes at its start.
    assert svc["spec"]["selector"] == {"lepton.ai/job-name": "resnet", "lepton.ai/replica-index": "0"}
    selected = svc["spec"]["selector"].items()
    assert construct_worker_pod(job(), 0, 0)["metadata"]["labels"].items() >= selected
    assert not construct_worker_pod(job(), 1, 0)["metadata"]["labels"].items() >= selected


def test_pod_groups():
    tj = job(scheduling={"schedulerName": "volcano", "queue": "research"})
    scheduler = gang_scheduler(tj)
    assert scheduler is GangScheduler.VOLCANO
    group = construct_pod_group(tj, scheduler)
    assert group["apiVersion"] == "scheduling.volcano.sh/v1beta1"
    assert group["spec"] == {"minMember": 4, "minResources": {"nvidia.com/gpu": "32"}, "queue": "research"}
    pod = construct_worker_pod(tj, 0, 0, pod_group="resnet")
    assert pod["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == "resnet"
    assert pod["spec"]["schedulerName"] == "volcano"
    assert gang_scheduler(job()) is None
    cosched = construct_pod_group(
        job(scheduling={"schedulerName": "coscheduler"}), GangScheduler.COSCHEDULING
    )
    assert cosched["apiVersion"] == "scheduling.x-k8s.io/v1alpha1"
    assert cosched["spec"] == {"minMember": 4}


# Rank 0's progress endpoint: declared on the trainer, scraped on worker 0 only.


def _trainer(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "trainer")


def test_metrics_port_is_declared_and_worker_0_is_annotated_for_prometheus():
    pods = [construct_worker_pod(job(), i, 0) for i in (0, 1)]
    for pod in pods:
        assert _trainer(pod)["ports"] == [{"name": "metrics", "containerPort": 9400, "protocol": "TCP"}]
    assert {
        k: v for k, v in pods[0]["metadata"]["annotations"].items() if k.startswith("prometheus.io/")
    } == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9400",
        "prometheus.io/path": "/metrics",
    }
    # Only rank 0 serves: the other workers would be targets that are always down.
    assert not any(k.startswith("prometheus.io/") for k in pods[1]["metadata"]["annotations"])


@pytest.mark.parametrize(("value", "port"), [("9500", 9500), ("0", None), ("metrics", None), ("70000", None)])
def test_the_trainers_own_metrics_port_is_used_or_turns_it_off(value, port):
    pod = construct_worker_pod(job(env=[{"name": "LEPTON_METRICS_PORT", "value": value}]), 0, 0)
    ports = _trainer(pod).get("ports") or []
    annotations = pod["metadata"]["annotations"]
    if port is None:
        assert ports == []
        assert "prometheus.io/scrape" not in annotations
    else:
        assert [p["containerPort"] for p in ports] == [port]
        assert annotations["prometheus.io/port"] == str(port)


def test_a_users_port_and_scrape_settings_are_kept():
    template = job().spec.template.model_dump(by_alias=True, exclude_none=True)
    template["metadata"]["annotations"]["prometheus.io/scrape"] = "false"
    _trainer(template)["ports"] = [{"name": "metrics", "containerPort": 8000}]
    pod = construct_worker_pod(job(template=template), 0, 0)
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "false"
    assert _trainer(pod)["ports"] == [
        {"name": "metrics", "containerPort": 8000},
        {"name": "lepton-metrics", "containerPort": 9400, "protocol": "TCP"},
    ]
