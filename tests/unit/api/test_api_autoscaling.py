"""spec.autoscaling: HPA v2 defaults, the deprecated top-level spelling, and the cross-field rules,
checked both in Python and as CEL rules in the generated CRD (the API server runs the latter; the
integration suite sends the same manifests to it)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lepton.api.autoscaling import (
    Autoscaling,
    ScalingPolicy,
    ScalingPolicyType,
    ScalingRules,
    SelectPolicy,
    TargetType,
)
from lepton.api.crd import KINDS, crd

BASE = {"maxReplicas": 10, "target": 5}


def auto(**fields: Any) -> Autoscaling:
    return Autoscaling.model_validate({**BASE, **fields})


def pods(value: int, period: int) -> ScalingPolicy:
    return ScalingPolicy(type=ScalingPolicyType.PODS, value=value, period_seconds=period)


def percent(value: int, period: int) -> ScalingPolicy:
    return ScalingPolicy(type=ScalingPolicyType.PERCENT, value=value, period_seconds=period)


HPA_UP = ScalingRules(
    stabilization_window_seconds=0, select_policy=SelectPolicy.MAX, policies=[percent(100, 15), pods(4, 15)]
)
HPA_DOWN = ScalingRules(
    stabilization_window_seconds=300, select_policy=SelectPolicy.MAX, policies=[percent(100, 15)]
)


@pytest.mark.parametrize(
    ("scenario", "fields", "up", "down"),
    [
        ("nothing set: HPA v2's defaults", {}, HPA_UP, HPA_DOWN),
        (
            "behavior fields set, the rest defaulted per field",
            {"behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}},
            HPA_UP,
            ScalingRules(
                stabilization_window_seconds=300, select_policy=SelectPolicy.MAX, policies=[pods(1, 60)]
            ),
        ),
        (
            "the deprecated top-level spelling is read",
            {"scaleUp": {"stabilizationWindowSeconds": 30, "selectPolicy": "Min"}},
            ScalingRules(
                stabilization_window_seconds=30,
                select_policy=SelectPolicy.MIN,
                policies=[percent(100, 15), pods(4, 15)],
            ),
            HPA_DOWN,
        ),
        (
            "old spelling for one direction, new for the other",
            {
                "scaleUp": {"selectPolicy": "Disabled"},
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}},
            },
            ScalingRules(
                stabilization_window_seconds=0,
                select_policy=SelectPolicy.DISABLED,
                policies=[percent(100, 15), pods(4, 15)],
            ),
            ScalingRules(
                stabilization_window_seconds=0, select_policy=SelectPolicy.MAX, policies=[percent(100, 15)]
            ),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_rules_fill_hpa_defaults(scenario: str, fields: dict[str, Any], up: ScalingRules, down: ScalingRules):
    assert auto(**fields).rules() == (up, down), scenario


def test_defaults():
    spec = auto()
    assert (spec.tolerance, spec.poll_seconds, spec.failure_threshold, spec.fallback_replicas) == (
        0.1,
        5,
        3,
        None,
    )
    assert spec.effective_target_type is TargetType.AVERAGE_VALUE


@pytest.mark.parametrize(
    ("metric", "target_type", "expected"),
    [
        ("rps", None, TargetType.AVERAGE_VALUE),
        ("concurrency", None, TargetType.AVERAGE_VALUE),
        ("queueDepth", None, TargetType.AVERAGE_VALUE),
        ("latencyP95", None, TargetType.VALUE),
        ("gpuUtilization", None, TargetType.VALUE),
        ("custom", None, TargetType.AVERAGE_VALUE),
        ("custom", "Value", TargetType.VALUE),
    ],
)
def test_effective_target_type(metric: str, target_type: str | None, expected: TargetType):
    fields: dict[str, Any] = {"metric": metric}
    if metric == "custom":
        fields["query"] = "sum(x)"
    if target_type:
        fields["targetType"] = target_type
    assert auto(**fields).effective_target_type is expected


VALID = [
    ("fallback within range", {"minReplicas": 2, "fallbackReplicas": 2}),
    ("custom with Value", {"metric": "custom", "query": "max(x)", "targetType": "Value"}),
    (
        "token and CA for https",
        {
            "prometheusUrl": "https://prom:9090",
            "prometheusAuth": {
                "bearerTokenSecret": {"name": "prom", "key": "token"},
                "ca": {"configMap": {"name": "ca", "key": "ca.crt"}},
            },
        },
    ),
    (
        "CA with the operator's default URL",
        {"prometheusAuth": {"ca": {"secret": {"name": "ca", "key": "ca.crt"}}}},
    ),
]

INVALID = [
    ("fallback above max", {"fallbackReplicas": 11}, "fallbackReplicas must be within"),
    ("fallback below min", {"minReplicas": 3, "fallbackReplicas": 2}, "fallbackReplicas must be within"),
    ("targetType on a built-in metric", {"targetType": "Value"}, "targetType applies to metric custom only"),
    (
        "both spellings of scaleUp",
        {"scaleUp": {}, "behavior": {"scaleUp": {}}},
        "autoscaling.scaleUp is the deprecated",
    ),
    (
        "both spellings of scaleDown",
        {"scaleDown": {}, "behavior": {"scaleDown": {}}},
        "scaleDown is the deprecated",
    ),
    (
        "CA with an http URL",
        {
            "prometheusUrl": "http://prom:9090",
            "prometheusAuth": {"ca": {"secret": {"name": "ca", "key": "ca.crt"}}},
        },
        "prometheusAuth.ca needs an https://",
    ),
    (
        "CA from both a ConfigMap and a Secret",
        {
            "prometheusAuth": {
                "ca": {"configMap": {"name": "a", "key": "k"}, "secret": {"name": "b", "key": "k"}}
            }
        },
        "exactly one of configMap and secret",
    ),
    ("CA from neither", {"prometheusAuth": {"ca": {}}}, "exactly one of configMap and secret"),
    ("tolerance above 1", {"tolerance": 1.5}, "less than or equal to 1"),
    ("empty policies list", {"behavior": {"scaleUp": {"policies": []}}}, "at least 1 item"),
    ("unknown metric", {"metric": "qps"}, "'rps', 'concurrency'"),
]


@pytest.mark.parametrize(("scenario", "fields"), VALID, ids=[v[0] for v in VALID])
def test_valid(scenario: str, fields: dict[str, Any]):
    auto(**fields)


@pytest.mark.parametrize(("scenario", "fields", "message"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid(scenario: str, fields: dict[str, Any], message: str):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(".", r"\.")):
        auto(**fields)


def schema(*path: str) -> dict[str, Any]:
    kind = next(k for k in KINDS if k.kind == "InferenceService")
    node = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in ("spec", "autoscaling", *path):
        node = node["properties"][part]
    return node


@pytest.mark.parametrize(
    ("path", "field_path", "fragment"),
    [
        ((), ".fallbackReplicas", "self.fallbackReplicas >= self.minReplicas"),
        ((), ".targetType", "!has(self.targetType)"),
        ((), ".scaleUp", "!has(self.behavior.scaleUp)"),
        ((), ".scaleDown", "!has(self.behavior.scaleDown)"),
        ((), ".prometheusAuth.ca", "self.prometheusUrl.startsWith('https://')"),
        (("prometheusAuth", "ca"), None, "has(self.configMap) != has(self.secret)"),
    ],
)
def test_cel_rules_name_their_field(path: tuple[str, ...], field_path: str | None, fragment: str):
    rules = schema(*path)["x-kubernetes-validations"]
    matching = [r for r in rules if fragment in r["rule"]]
    assert len(matching) == 1, rules
    assert matching[0].get("fieldPath") == field_path


def test_behavior_has_no_server_side_default():
    """A default `behavior` would collide with the deprecated spelling in old manifests."""
    assert "default" not in schema("behavior")
    assert "default" not in schema("behavior", "scaleUp")
    assert "default" not in schema("scaleUp")
    assert set(schema("metric")["enum"]) == {
        "rps",
        "concurrency",
        "latencyP95",
        "queueDepth",
        "gpuUtilization",
        "custom",
    }
