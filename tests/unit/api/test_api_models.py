"""Model behaviour: defaults, wire names, cross-field validators, helpers the controllers use."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from lepton.api import (
    API_VERSION,
    Condition,
    ConditionStatus,
    InferenceService,
    InferenceServiceSpec,
    ModelVersion,
    ModelVersionSpec,
    RestartPolicy,
    TrainingJob,
    TrainingJobPhase,
    TrainingJobSpec,
    TrainingJobStatus,
    find_condition,
    set_condition,
)

TEMPLATE = {"spec": {"containers": [{"name": "trainer", "image": "lepton/trainer:dev"}]}}
JOB = {"replicas": 2, "template": TEMPLATE}
SERVICE = {"model": {"name": "classifier"}}
VERSION = {"model": "classifier", "version": "v1", "source": {"uri": "pvc://models/classifier/v1"}}


def test_trainingjob_defaults():
    spec = TrainingJobSpec.model_validate({"template": TEMPLATE})
    dumped = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert dumped["replicas"] == 1
    assert dumped["masterPort"] == 29500
    assert "nprocPerNode" not in dumped
    assert dumped["scheduling"] == {"gang": True, "preemptible": False}
    assert dumped["runPolicy"] == {
        "backoffLimit": 3,
        "restartPolicy": "OnFailure",
        "cleanPodPolicy": "Running",
        "suspend": False,
        "terminationGracePeriodSeconds": 30,
    }


def test_inferenceservice_defaults():
    spec = InferenceServiceSpec.model_validate(SERVICE)
    assert spec.model.version == "latest"
    assert spec.replicas == 1
    assert spec.server.image == "lepton/server:dev"
    assert spec.server.port == 8080
    assert [s.weight for s in spec.rollout.steps] == [20, 50]
    assert spec.rollout.analysis.failure_limit == 3
    auto = InferenceServiceSpec.model_validate({**SERVICE, "autoscaling": {"maxReplicas": 4, "target": 10}})
    assert auto.autoscaling is not None
    up, down = auto.autoscaling.rules()
    assert up.stabilization_window_seconds == 0
    assert down.stabilization_window_seconds == 300


def test_rollout_defaults_and_pauses():
    spec = InferenceServiceSpec.model_validate(
        {
            **SERVICE,
            "traffic": {"gateway": {"name": "gw"}, "mirrorPercent": 10},
            "rollout": {
                "steps": [
                    {"weight": 0},
                    {"weight": 10, "pauseSeconds": 0},
                    {"weight": 50, "untilPromoted": True},
                ]
            },
        }
    )
    assert [s.pause() for s in spec.rollout.steps] == [60, 0, None]
    assert spec.rollout.progress_deadline_seconds == 600
    assert spec.rollout.progress_deadline_abort is False
    assert spec.rollout.analysis.consecutive_error_limit == 4
    assert [s.pause() for s in InferenceServiceSpec.model_validate(SERVICE).rollout.steps] == [60, 60]


def test_modelversion_defaults():
    spec = ModelVersionSpec.model_validate(VERSION)
    assert spec.source.format == "torch-export"
    assert spec.framework == "pytorch"


def test_whole_object_reads_as_the_api_server_returns_it_and_keeps_unknown_metadata():
    body = {
        "apiVersion": API_VERSION,
        "kind": "TrainingJob",
        "metadata": {
            "name": "x",
            "namespace": "ns",
            "uid": "u",
            "generation": 3,
            "managedFields": [{"a": 1}],
        },
        "spec": JOB,
        "status": {"phase": "Running", "restartCount": 1, "replicas": {"active": 2, "ready": 1}},
    }
    job = TrainingJob.model_validate(body)
    assert (job.name, job.namespace, job.metadata.generation) == ("x", "ns", 3)
    assert job.status is not None
    assert job.status.phase is TrainingJobPhase.RUNNING
    assert job.spec.run_policy.restart_policy is RestartPolicy.ON_FAILURE
    dumped = job.model_dump(by_alias=True, exclude_none=True)
    assert dumped["metadata"]["managedFields"] == [{"a": 1}]
    assert dumped["status"]["replicas"] == {"active": 2, "ready": 1, "succeeded": 0, "failed": 0}


def test_snake_case_names_build_models_and_camel_case_goes_on_the_wire():
    status = TrainingJobStatus(restart_count=2, node_loss_restarts=1, admission_message="waiting for 16 GPUs")
    assert status.model_dump(by_alias=True, exclude_none=True) == {
        "restartCount": 2,
        "nodeLossRestarts": 1,
        "admissionMessage": "waiting for 16 GPUs",
    }


def test_pod_template_keeps_fields_it_does_not_type():
    template = copy.deepcopy(TEMPLATE)
    template["spec"]["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    template["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    template["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}, "claims": [{"name": "c"}]}
    spec = TrainingJobSpec.model_validate({"template": template})
    dumped = spec.model_dump(by_alias=True, exclude_none=True)["template"]
    assert dumped == template


@pytest.mark.parametrize(
    ("resources", "nproc", "gpus", "effective"),
    [
        (None, None, 0, 1),
        ({"limits": {"nvidia.com/gpu": 8}}, None, 8, 8),
        ({"requests": {"nvidia.com/gpu": "4"}}, None, 4, 4),
        ({"limits": {"nvidia.com/gpu": 8}}, 2, 8, 2),
        ({"limits": {"cpu": "4"}}, 3, 0, 3),
    ],
    ids=["cpu-default", "gpu-limit", "gpu-request-string", "explicit-nproc", "cpu-explicit"],
)
def test_gpus_and_processes_per_replica(resources, nproc, gpus, effective):
    template = copy.deepcopy(TEMPLATE)
    if resources:
        template["spec"]["containers"][0]["resources"] = resources
    spec = TrainingJobSpec.model_validate({"template": template, "nprocPerNode": nproc})
    assert spec.gpus_per_replica() == gpus
    assert spec.effective_nproc_per_node() == effective


def with_(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[last] = value
    return doc


INVALID = [
    (
        "tj-no-trainer",
        TrainingJobSpec,
        with_(JOB, "template.spec.containers", [{"name": "main"}]),
        "named 'trainer'",
    ),
    (
        "tj-pod-restart",
        TrainingJobSpec,
        with_(JOB, "template.spec.restartPolicy", "Always"),
        "restartPolicy must be Never",
    ),
    (
        "tj-elastic-order",
        TrainingJobSpec,
        with_(JOB, "elastic", {"minReplicas": 3, "maxReplicas": 2}),
        "minReplicas",
    ),
    (
        "tj-elastic-bounds",
        TrainingJobSpec,
        with_(JOB, "elastic", {"minReplicas": 3, "maxReplicas": 4}),
        "within elastic",
    ),
    (
        "tj-checkpoint-volume",
        TrainingJobSpec,
        with_(JOB, "checkpoint", {"volume": "ckpt"}),
        "checkpoint.volume",
    ),
    (
        "tj-output-latest",
        TrainingJobSpec,
        with_(JOB, "output", {"model": "m", "version": "latest"}),
        "output.version",
    ),
    ("tj-replicas-zero", TrainingJobSpec, with_(JOB, "replicas", 0), "replicas"),
    (
        "tj-restart-policy",
        TrainingJobSpec,
        with_(JOB, "runPolicy", {"restartPolicy": "Always"}),
        "restartPolicy",
    ),
    ("tj-model-name", TrainingJobSpec, with_(JOB, "output", {"model": "Bad_Name"}), "output.model"),
    ("mv-latest", ModelVersionSpec, with_(VERSION, "version", "latest"), "version must not be 'latest'"),
    ("mv-digest", ModelVersionSpec, with_(VERSION, "source.digest", "md5:abc"), "source.digest"),
    ("mv-uri", ModelVersionSpec, with_(VERSION, "source.uri", "models/v1"), "source.uri"),
    (
        "isvc-autoscaling-order",
        InferenceServiceSpec,
        with_(SERVICE, "autoscaling", {"minReplicas": 5, "maxReplicas": 2, "target": 1}),
        "minReplicas",
    ),
    (
        "isvc-custom-no-query",
        InferenceServiceSpec,
        with_(SERVICE, "autoscaling", {"maxReplicas": 2, "target": 1, "metric": "custom"}),
        "query is required",
    ),
    (
        "isvc-query-not-custom",
        InferenceServiceSpec,
        with_(SERVICE, "autoscaling", {"maxReplicas": 2, "target": 1, "query": "up"}),
        "query is required",
    ),
    (
        "isvc-zero-without-scale-to-zero",
        InferenceServiceSpec,
        with_(SERVICE, "autoscaling", {"minReplicas": 0, "maxReplicas": 2, "target": 1}),
        "scaleToZero",
    ),
    (
        "isvc-steps-decreasing",
        InferenceServiceSpec,
        with_(SERVICE, "rollout", {"steps": [{"weight": 50}, {"weight": 20}]}),
        "strictly increasing",
    ),
    (
        "isvc-steps-repeated",
        InferenceServiceSpec,
        with_(SERVICE, "rollout", {"steps": [{"weight": 50}, {"weight": 50}]}),
        "strictly increasing",
    ),
    (
        "isvc-step-weight",
        InferenceServiceSpec,
        with_(SERVICE, "rollout", {"steps": [{"weight": 101}]}),
        "weight",
    ),
    (
        "isvc-shadow-step-without-mirror",
        InferenceServiceSpec,
        with_(SERVICE, "rollout", {"steps": [{"weight": 0}, {"weight": 20}]}),
        "needs traffic.mirrorPercent",
    ),
    (
        "isvc-until-promoted-with-pause",
        InferenceServiceSpec,
        with_(SERVICE, "rollout", {"steps": [{"weight": 20, "untilPromoted": True, "pauseSeconds": 5}]}),
        "pauseSeconds cannot be set with untilPromoted",
    ),
    (
        "isvc-custom-check-without-threshold",
        InferenceServiceSpec,
        with_(SERVICE, "rollout", {"analysis": {"custom": [{"name": "gpu", "query": "up"}]}}),
        "max or min must be set",
    ),
    (
        "isvc-mirror-percent",
        InferenceServiceSpec,
        with_(SERVICE, "traffic", {"gateway": {"name": "gw"}, "mirrorPercent": 101}),
        "mirrorPercent",
    ),
    (
        "isvc-mirror-without-gateway",
        InferenceServiceSpec,
        with_(SERVICE, "traffic", {"mirrorPercent": 10}),
        "traffic.gateway",
    ),
    (
        "isvc-metric",
        InferenceServiceSpec,
        with_(SERVICE, "autoscaling", {"maxReplicas": 2, "target": 1, "metric": "qps"}),
        "metric",
    ),
]


@pytest.mark.parametrize(("model", "doc", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_specs_are_rejected_with_a_message_naming_the_field(model, doc, message):
    with pytest.raises(ValidationError) as caught:
        model.model_validate(doc)
    text = str(caught.value)
    assert message in text


def test_the_untouched_bases_of_the_invalid_table_are_valid():
    TrainingJobSpec.model_validate(JOB)
    ModelVersionSpec.model_validate(VERSION)
    InferenceServiceSpec.model_validate(SERVICE)
    InferenceService.model_validate({"metadata": {"name": "x"}, "spec": SERVICE})
    ModelVersion.model_validate({"metadata": {"name": "x"}, "spec": VERSION})


def test_set_condition_moves_transition_time_only_when_status_changes():
    conditions = set_condition([], "Ready", False, "Deploying", at="2024-01-01T00:00:00Z")
    same = set_condition(conditions, "Ready", False, "Deploying", "still", at="2024-01-01T00:05:00Z")
    assert same[0].last_transition_time == "2024-01-01T00:00:00Z"
    assert same[0].message == "still"
    flipped = set_condition(
        same, "Ready", True, "ReplicasReady", at="2024-01-01T00:06:00Z", observed_generation=2
    )
    ready = find_condition(flipped, "Ready")
    assert ready == Condition(
        type="Ready",
        status=ConditionStatus.TRUE,
        reason="ReplicasReady",
        last_transition_time="2024-01-01T00:06:00Z",
        observed_generation=2,
    )
    both = set_condition(flipped, "Degraded", False, "Healthy", at="2024-01-01T00:07:00Z")
    assert [c.type for c in both] == ["Ready", "Degraded"]
    assert find_condition(both, "Missing") is None


def test_condition_reason_must_be_camel_case_identifier():
    with pytest.raises(ValidationError, match="reason"):
        Condition(type="Ready", status=ConditionStatus.TRUE, reason="not ok!", last_transition_time="x")
