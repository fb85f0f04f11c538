"""Admission of spec.autoscaling by the real API server: the CEL rules added for issue #12 reject bad
combinations naming the field, and the manifests they must let through pass (the same cases as
tests/unit/api/test_api_autoscaling.py, which checks the pydantic side)."""

from __future__ import annotations

from typing import Any

import pytest
from api_manifests import INFERENCESERVICE, derive, dump

pytestmark = pytest.mark.integration

AUTO = {"maxReplicas": 10, "target": 5}
CA = {"secret": {"name": "ca", "key": "ca.crt"}}

VALID: list[tuple[str, dict[str, Any]]] = [
    (
        "behavior",
        {"behavior": {"scaleUp": {"selectPolicy": "Min"}, "scaleDown": {"stabilizationWindowSeconds": 0}}},
    ),
    ("deprecated-top-level-scaleUp", {"scaleUp": {"stabilizationWindowSeconds": 30}}),
    ("fallback-in-range", {"minReplicas": 2, "fallbackReplicas": 2}),
    ("custom-value", {"metric": "custom", "query": 'max(x{service="{{service}}"})', "targetType": "Value"}),
    (
        "https-with-auth",
        {
            "prometheusUrl": "https://prom:9090",
            "prometheusAuth": {"bearerTokenSecret": {"name": "prom", "key": "token"}, "ca": CA},
        },
    ),
]

INVALID: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "fallback-above-max",
        {"fallbackReplicas": 11},
        ["spec.autoscaling.fallbackReplicas", "must be within autoscaling.minReplicas..maxReplicas"],
    ),
    (
        "target-type-on-builtin",
        {"targetType": "Value"},
        ["spec.autoscaling.targetType", "applies to metric custom only"],
    ),
    (
        "both-scaleUp-spellings",
        {"scaleUp": {}, "behavior": {"scaleUp": {}}},
        ["spec.autoscaling.scaleUp", "deprecated spelling of autoscaling.behavior.scaleUp"],
    ),
    (
        "both-scaleDown-spellings",
        {"scaleDown": {}, "behavior": {"scaleDown": {}}},
        ["spec.autoscaling.scaleDown", "deprecated spelling of autoscaling.behavior.scaleDown"],
    ),
    (
        "ca-with-http",
        {"prometheusUrl": "http://prom:9090", "prometheusAuth": {"ca": CA}},
        ["spec.autoscaling.prometheusAuth.ca", "needs an https:// autoscaling.prometheusUrl"],
    ),
    (
        "ca-from-two-sources",
        {"prometheusAuth": {"ca": {**CA, "configMap": {"name": "ca", "key": "ca.crt"}}}},
        ["spec.autoscaling.prometheusAuth.ca", "exactly one of configMap and secret"],
    ),
    ("unknown-metric", {"metric": "qps"}, ["spec.autoscaling.metric", 'Unsupported value: "qps"']),
]


@pytest.mark.parametrize(("scenario", "fields"), VALID, ids=[v[0] for v in VALID])
def test_valid_autoscaling_passes(lepton_crds, kubectl, namespace, scenario: str, fields: dict[str, Any]):
    manifest = derive(INFERENCESERVICE, {"spec.autoscaling": {**AUTO, **fields}})
    out = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump(manifest), check=False)
    assert out.returncode == 0, f"{scenario} rejected: {out.stderr}"


@pytest.mark.parametrize(("scenario", "fields", "fragments"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_autoscaling_is_rejected(lepton_crds, kubectl, namespace, scenario, fields, fragments):
    manifest = derive(INFERENCESERVICE, {"spec.autoscaling": {**AUTO, **fields}})
    out = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump(manifest), check=False)
    assert out.returncode != 0, f"{scenario} accepted: {out.stdout}"
    missing = [f for f in fragments if f not in out.stderr]
    assert missing == [], f"message lacks {missing}: {out.stderr}"
