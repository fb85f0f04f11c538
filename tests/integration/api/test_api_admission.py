"""Admission by the real API server: examples pass, mistakes are rejected with messages naming the field
and the rule, and a ModelVersion's spec cannot change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from api_manifests import DELETE, INFERENCESERVICE, MODELVERSION, TRAININGJOB, derive, dump

pytestmark = pytest.mark.integration

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))
TJ, MV, ISVC = TRAININGJOB, MODELVERSION, INFERENCESERVICE
TRAINER = "spec.template.spec.containers.0"
AUTO = {"maxReplicas": 4, "target": 10}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_passes_server_side_dry_run(lepton_crds, kubectl, namespace, path: Path):
    out = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(path))
    assert "(server dry run)" in out.stdout
    kinds = {doc["kind"] for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert all(kind.lower() in out.stdout for kind in kinds), out.stdout


# (scenario, base object, changes, fragments the API server's message must contain)
INVALID: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    (
        "tj-no-trainer-container",
        TJ,
        {f"{TRAINER}.name": "main"},
        ["spec.template.spec.containers", "must include a container named 'trainer'"],
    ),
    (
        "tj-pod-restart-policy",
        TJ,
        {"spec.template.spec.restartPolicy": "OnFailure"},
        ["spec.template.spec.restartPolicy", "must be Never"],
    ),
    (
        "tj-elastic-min-above-max",
        TJ,
        {"spec.elastic": {"minReplicas": 4, "maxReplicas": 2}, "spec.replicas": 3},
        ["spec.elastic.minReplicas", "elastic.minReplicas must be less than or equal to elastic.maxReplicas"],
    ),
    (
        "tj-replicas-outside-elastic",
        TJ,
        {"spec.elastic": {"minReplicas": 2, "maxReplicas": 4}, "spec.replicas": 5},
        ["spec.replicas", "replicas must be within elastic.minReplicas and elastic.maxReplicas"],
    ),
    (
        "tj-checkpoint-volume-unknown",
        TJ,
        {"spec.checkpoint": {"volume": "ckpt"}},
        ["spec.checkpoint.volume", "must name a volume in template.spec.volumes"],
    ),
    (
        "tj-output-version-latest",
        TJ,
        {"spec.output": {"model": "classifier", "version": "latest"}},
        ["spec.output.version", "must not be 'latest'"],
    ),
    (
        "tj-output-model-not-dns",
        TJ,
        {"spec.output": {"model": "My_Model"}},
        ["spec.output.model", "should match"],
    ),
    ("tj-replicas-zero", TJ, {"spec.replicas": 0}, ["spec.replicas", "should be greater than or equal to 1"]),
    (
        "tj-replicas-too-many",
        TJ,
        {"spec.replicas": 5000},
        ["spec.replicas", "should be less than or equal to 1000"],
    ),
    (
        "tj-nproc-zero",
        TJ,
        {"spec.nprocPerNode": 0},
        ["spec.nprocPerNode", "should be greater than or equal to 1"],
    ),
    (
        "tj-master-port",
        TJ,
        {"spec.masterPort": 70000},
        ["spec.masterPort", "should be less than or equal to 65535"],
    ),
    (
        "tj-restart-policy-enum",
        TJ,
        {"spec.runPolicy": {"restartPolicy": "Always"}},
        ["spec.runPolicy.restartPolicy", 'Unsupported value: "Always"', '"OnFailure", "Never", "ExitCode"'],
    ),
    (
        "tj-clean-pod-policy-enum",
        TJ,
        {"spec.runPolicy": {"cleanPodPolicy": "Finished"}},
        ["spec.runPolicy.cleanPodPolicy", 'Unsupported value: "Finished"'],
    ),
    (
        "tj-backoff-negative",
        TJ,
        {"spec.runPolicy": {"backoffLimit": -1}},
        ["spec.runPolicy.backoffLimit", "should be greater than or equal to 0"],
    ),
    ("tj-gang-not-bool", TJ, {"spec.scheduling": {"gang": "yes"}}, ["spec.scheduling.gang", "boolean"]),
    ("tj-no-template", TJ, {"spec.template": DELETE}, ["spec.template", "Required value"]),
    (
        "tj-container-name",
        TJ,
        {f"{TRAINER}.name": "Trainer_1"},
        ["spec.template.spec.containers[0].name", "should match"],
    ),
    (
        "tj-too-many-containers",
        TJ,
        {"spec.template.spec.containers": [{"name": f"c{i}"} for i in range(17)]},
        ["spec.template.spec.containers", "must have at most 16 items"],
    ),
    ("tj-name-too-long", TJ, {"metadata.name": "j" * 53}, ["metadata.name", "Too long"]),
    ("tj-name-not-dns1035", TJ, {"metadata.name": "1job"}, ["metadata.name", "should match"]),
    (
        "mv-version-latest",
        MV,
        {"spec.version": "latest", "metadata.name": "classifier-latest"},
        ["spec.version", "version must not be 'latest'"],
    ),
    ("mv-digest-format", MV, {"spec.source.digest": "md5:0123"}, ["spec.source.digest", "should match"]),
    (
        "mv-uri-without-scheme",
        MV,
        {"spec.source.uri": "models/classifier/v1"},
        ["spec.source.uri", "should match"],
    ),
    (
        "mv-format-enum",
        MV,
        {"spec.source.format": "onnx"},
        ["spec.source.format", 'Unsupported value: "onnx"'],
    ),
    ("mv-no-source", MV, {"spec.source": DELETE}, ["spec.source", "Required value"]),
    (
        "isvc-autoscaling-min-above-max",
        ISVC,
        {"spec.autoscaling": {**AUTO, "minReplicas": 6}},
        ["spec.autoscaling.minReplicas", "less than or equal to autoscaling.maxReplicas"],
    ),
    (
        "isvc-custom-metric-without-query",
        ISVC,
        {"spec.autoscaling": {**AUTO, "metric": "custom"}},
        ["spec.autoscaling.query", "query is required when autoscaling.metric is custom"],
    ),
    (
        "isvc-query-with-rps",
        ISVC,
        {"spec.autoscaling": {**AUTO, "query": "sum(up)"}},
        ["spec.autoscaling.query", "and only then"],
    ),
    (
        "isvc-min-zero-without-scale-to-zero",
        ISVC,
        {"spec.autoscaling": {**AUTO, "minReplicas": 0}},
        ["spec.autoscaling.scaleToZero", "must be set when autoscaling.minReplicas is 0"],
    ),
    (
        "isvc-scale-to-zero-with-min-one",
        ISVC,
        {"spec.autoscaling": {**AUTO, "scaleToZero": {}}},
        ["spec.autoscaling.scaleToZero", "and only then"],
    ),
    (
        "isvc-metric-enum",
        ISVC,
        {"spec.autoscaling": {**AUTO, "metric": "qps"}},
        ["spec.autoscaling.metric", 'Unsupported value: "qps"'],
    ),
    (
        "isvc-steps-decreasing",
        ISVC,
        {"spec.rollout": {"steps": [{"weight": 50}, {"weight": 20}]}},
        ["spec.rollout.steps", "weights must be strictly increasing"],
    ),
    (
        "isvc-steps-repeated",
        ISVC,
        {"spec.rollout": {"steps": [{"weight": 30}, {"weight": 30}]}},
        ["spec.rollout.steps", "weights must be strictly increasing"],
    ),
    (
        "isvc-shadow-step-without-mirror",
        ISVC,
        {"spec.rollout": {"steps": [{"weight": 0}, {"weight": 20}]}},
        ["spec.rollout.steps", "weight 0 (a shadow step) needs traffic.mirrorPercent above 0"],
    ),
    (
        "isvc-step-until-promoted-with-pause",
        ISVC,
        {"spec.rollout": {"steps": [{"weight": 20, "untilPromoted": True, "pauseSeconds": 30}]}},
        ["spec.rollout.steps[0].pauseSeconds", "cannot be set with untilPromoted"],
    ),
    (
        "isvc-custom-check-without-threshold",
        ISVC,
        {"spec.rollout": {"analysis": {"custom": [{"name": "gpu", "query": "up"}]}}},
        ["spec.rollout.analysis.custom[0].max", "max or min must be set"],
    ),
    (
        "isvc-mirror-percent-above-100",
        ISVC,
        {"spec.traffic": {"gateway": {"name": "gw"}, "mirrorPercent": 101}},
        ["spec.traffic.mirrorPercent", "should be less than or equal to 100"],
    ),
    (
        "isvc-mirror-without-gateway",
        ISVC,
        {"spec.traffic": {"mirrorPercent": 10}},
        ["spec.traffic.gateway", "Required value"],
    ),
    (
        "isvc-step-weight-above-100",
        ISVC,
        {"spec.rollout": {"steps": [{"weight": 101}]}},
        ["spec.rollout.steps[0].weight", "should be less than or equal to 100"],
    ),
    (
        "isvc-too-many-steps",
        ISVC,
        {"spec.rollout": {"steps": [{"weight": w} for w in range(1, 12)]}},
        ["spec.rollout.steps", "must have at most 10 items"],
    ),
    (
        "isvc-strategy-enum",
        ISVC,
        {"spec.rollout": {"strategy": "BlueGreen"}},
        ["spec.rollout.strategy", 'Unsupported value: "BlueGreen"'],
    ),
    (
        "isvc-max-error-rate",
        ISVC,
        {"spec.rollout": {"analysis": {"maxErrorRate": 2}}},
        ["spec.rollout.analysis.maxErrorRate", "should be less than or equal to 1"],
    ),
    (
        "isvc-model-version-not-dns",
        ISVC,
        {"spec.model.version": "V_1"},
        ["spec.model.version", "model.version must be 'latest' or a DNS label"],
    ),
    ("isvc-no-model-name", ISVC, {"spec.model.name": DELETE}, ["spec.model.name", "Required value"]),
    (
        "isvc-replicas-negative",
        ISVC,
        {"spec.replicas": -1},
        ["spec.replicas", "should be greater than or equal to 0"],
    ),
    (
        "isvc-port-zero",
        ISVC,
        {"spec.server": {"port": 0}},
        ["spec.server.port", "should be greater than or equal to 1"],
    ),
    (
        "isvc-duplicate-env",
        ISVC,
        {"spec.server": {"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}},
        ["spec.server.env[1]", "Duplicate value"],
    ),
    (
        "isvc-toleration-operator",
        ISVC,
        {"spec.server": {"tolerations": [{"key": "dedicated", "operator": "Maybe"}]}},
        ["spec.server.tolerations[0].operator", "Unsupported value"],
    ),
    (
        "isvc-hostname",
        ISVC,
        {"spec.traffic": {"gateway": {"name": "gw"}, "hostnames": ["Bad_Host"]}},
        ["spec.traffic.hostnames[0]", "should match"],
    ),
    (
        "isvc-prometheus-url",
        ISVC,
        {"spec.autoscaling": {**AUTO, "prometheusUrl": "ftp://prom"}},
        ["spec.autoscaling.prometheusUrl", "should match"],
    ),
    (
        "isvc-scaling-policy-type",
        ISVC,
        {
            "spec.autoscaling": {
                **AUTO,
                "scaleUp": {"policies": [{"type": "Replicas", "value": 1, "periodSeconds": 60}]},
            }
        },
        ["spec.autoscaling.scaleUp.policies[0].type", 'Unsupported value: "Replicas"'],
    ),
]


def test_the_invalid_table_is_large_and_its_bases_are_valid(lepton_crds, kubectl, namespace):
    assert len(INVALID) >= 25
    for base in (TJ, MV, ISVC):
        kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump(base))


@pytest.mark.parametrize("case", INVALID, ids=[case[0] for case in INVALID])
def test_invalid_manifest_is_rejected_naming_field_and_rule(lepton_crds, kubectl, namespace, case):
    _, base, changes, fragments = case
    manifest = derive(base, changes)
    out = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump(manifest), check=False)
    assert out.returncode != 0, f"accepted: {out.stdout}"
    missing = [f for f in fragments if f not in out.stderr]
    assert missing == [], f"message lacks {missing}: {out.stderr}"


def test_modelversion_spec_is_immutable_but_its_metadata_is_not(lepton_crds, kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=dump(MV))
    changed = kubectl(
        "patch", "mv", "classifier-v1", "-n", namespace, "--type", "merge",
        "-p", '{"spec": {"source": {"uri": "pvc://models/classifier/other"}}}', check=False,
    )  # fmt: skip
    assert changed.returncode != 0
    assert "spec is immutable" in changed.stderr
    kubectl("label", "mv", "classifier-v1", "-n", namespace, "stage=production")
    same = kubectl(
        "patch",
        "mv",
        "classifier-v1",
        "-n",
        namespace,
        "--type",
        "merge",
        "-p",
        '{"spec": {"version": "v1"}}',
    )
    assert same.returncode == 0
