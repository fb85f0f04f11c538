"""The pod template and the server settings carry core/v1's schema: the real API server refuses a
wrong type, an unknown field or an empty volumeMount name when the object is applied, naming the
field, and keeps a realistic template whole (nothing pruned)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from api_manifests import INFERENCESERVICE, TRAININGJOB, derive, dump

from lepton.api import kubeschema

pytestmark = pytest.mark.integration

TRAINER = "spec.template.spec.containers.0"

# (scenario, base, changes, fragments of the API server's message)
REFUSED: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    (
        "tj-image-pull-policy-number",
        TRAININGJOB,
        {f"{TRAINER}.imagePullPolicy": 1000000000000},
        ["spec.template.spec.containers[0].imagePullPolicy", "must be of type string"],
    ),
    (
        "tj-volume-mount-empty-name",
        TRAININGJOB,
        {f"{TRAINER}.volumeMounts": [{"name": "", "mountPath": "/data"}]},
        ["spec.template.spec.containers[0].volumeMounts[0].name", "at least 1 chars long"],
    ),
    (
        "tj-host-path-list",
        TRAININGJOB,
        {"spec.template.spec.volumes": [{"name": "data", "hostPath": {"path": ["/data"]}}]},
        ["spec.template.spec.volumes[0].hostPath.path", "must be of type string"],
    ),
    (
        "tj-unknown-container-field",
        TRAININGJOB,
        {f"{TRAINER}.imagePullPolcy": "Always"},
        ['unknown field "spec.template.spec.containers[0].imagePullPolcy"'],
    ),
    (
        "tj-port-without-number",
        TRAININGJOB,
        {f"{TRAINER}.ports": [{"name": "metrics"}]},
        ["spec.template.spec.containers[0].ports[0].containerPort", "Required value"],
    ),
    (
        "tj-cpu-not-a-quantity",
        TRAININGJOB,
        {f"{TRAINER}.resources": {"limits": {"cpu": "lots"}}},
        ["spec.template.spec.containers[0].resources.limits.cpu", "should match"],
    ),
    (
        "tj-node-selector-value-number",
        TRAININGJOB,
        {"spec.template.spec.nodeSelector": {"zone": 1}},
        ["spec.template.spec.nodeSelector.zone", "must be of type string"],
    ),
    (
        "tj-affinity-weight-string",
        TRAININGJOB,
        {
            "spec.template.spec.affinity": {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": "high", "preference": {"matchExpressions": []}}
                    ]
                }
            }
        },
        ["preferredDuringSchedulingIgnoredDuringExecution[0].weight", "must be of type integer"],
    ),
    (
        "isvc-env-value-from-typo",
        INFERENCESERVICE,
        {"spec.server": {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "kye": "k"}}}]}},
        ['unknown field "spec.server.env[0].valueFrom.secretKeyRef.kye"'],
    ),
    (
        "isvc-memory-not-a-quantity",
        INFERENCESERVICE,
        {"spec.server": {"resources": {"requests": {"memory": "eight gigs"}}}},
        ["spec.server.resources.requests.memory", "should match"],
    ),
    (
        "isvc-toleration-seconds-string",
        INFERENCESERVICE,
        {"spec.server": {"tolerations": [{"key": "k", "effect": "NoExecute", "tolerationSeconds": "60"}]}},
        ["spec.server.tolerations[0].tolerationSeconds", "must be of type integer"],
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=[case[0] for case in REFUSED])
def test_wrong_core_field_is_refused_naming_it(lepton_crds, kubectl, namespace, case):
    _, base, changes, fragments = case
    manifest = derive(base, changes)
    out = kubectl("apply", "-n", namespace, "-f", "-", input=dump(manifest), check=False)
    assert out.returncode != 0, f"accepted: {out.stdout}"
    missing = [f for f in fragments if f not in out.stderr]
    assert missing == [], f"message lacks {missing}: {out.stderr}"


FULL_TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"team": "vision"}, "annotations": {"note": "kept"}},
    "spec": {
        "containers": [
            {
                "name": "trainer",
                "image": "lepton/trainer:dev",
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"name": "metrics", "containerPort": 9400, "protocol": "TCP"}],
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "resources": {"limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": 1}},
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 5},
                "securityContext": {"runAsUser": 1000, "capabilities": {"add": ["NET_RAW"]}},
            },
            {"name": "sidecar", "image": "busybox", "args": ["sleep", "inf"]},
        ],
        "volumes": [
            {"name": "data", "hostPath": {"path": "/data", "type": "Directory"}},
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
        ],
        "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
        "securityContext": {"fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "serviceAccountName": "trainer",
        "priorityClassName": "high",
    },
}


def test_a_realistic_template_is_kept_whole(lepton_crds, kubectl, namespace):
    manifest = derive(TRAININGJOB, {"spec.template": FULL_TEMPLATE, "spec.scheduling": {"gang": False}})
    kubectl("apply", "-n", namespace, "-f", "-", input=dump(manifest))
    # No operator runs here: the test reads the object as stored.
    stored = json.loads(kubectl("get", "tj", "job", "-n", namespace, "-o", "json").stdout)
    assert stored["spec"]["template"] == FULL_TEMPLATE


def test_committed_core_schema_is_the_api_servers(kubectl):
    """core_v1.json is trimmed from this cluster's (the pinned Kubernetes version's) OpenAPI."""
    live = json.loads(kubectl("get", "--raw", "/openapi/v3/api/v1").stdout)
    assert kubeschema.trim(live) == kubeschema.load(), "run `make core-schema` and commit the result"


def test_crds_fit_client_side_apply_and_etcd(lepton_crds, kubectl):
    """kubectl apply (client side) keeps the whole object in an annotation of at most 256 KiB; etcd
    takes objects up to 1.5 MiB."""
    for name in lepton_crds:
        crd = yaml.safe_load(kubectl("get", "crd", name, "-o", "yaml").stdout)
        compact = len(json.dumps(crd["spec"], separators=(",", ":")))
        assert compact < 256 * 1024 // 2, f"{name}: {compact} bytes of spec"
