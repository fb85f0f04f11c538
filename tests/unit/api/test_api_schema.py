"""The generated schemas are structural, documented, and carry the rules, columns and subresources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Optional

import pytest
from pydantic import Field

from lepton.api import KINDS, LeptonModel
from lepton.api.crd import KINDS as CRD_KINDS
from lepton.api.crd import SchemaError, crd, openapi_schema

CRDS = {kind.kind: crd(kind) for kind in CRD_KINDS}
ALLOWED = {
    "description", "type", "properties", "items", "additionalProperties", "required", "default", "enum",
    "pattern", "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "format", "maxProperties", "x-kubernetes-validations", "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}  # fmt: skip
# Fields of core/v1 types (lepton.api.kubeschema): their descriptions are stripped to keep the CRDs
# small; `kubectl explain pod.spec` documents them.
CORE_FIELDS = {
    "TrainingJob": (".spec.template.", ".spec.initializers.env[].valueFrom."),
    "InferenceService": (".spec.server.resources.", ".spec.server.env[]", ".spec.server.tolerations[]"),
}


def schema_of(kind: str) -> dict[str, Any]:
    return CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if "items" in node:
        yield from nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from nodes(node["additionalProperties"], f"{path}.*")


def at(kind: str, path: str) -> dict[str, Any]:
    node = schema_of(kind)
    for part in path.strip(".").split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


ALL_NODES = [(k, p, n) for k in CRDS for p, n in nodes(schema_of(k))]


def test_every_kind_has_a_crd():
    assert set(CRDS) == {m.__name__ for m in KINDS}


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schema_is_structural(kind: str):
    for path, node in nodes(schema_of(kind)):
        assert set(node) <= ALLOWED, f"{kind}{path}: {set(node) - ALLOWED}"
        assert (
            "type" in node
            or node.get("x-kubernetes-int-or-string")
            or node.get("x-kubernetes-preserve-unknown-fields")
        ), f"{kind}{path} has no type"
        assert not ("properties" in node and "additionalProperties" in node), f"{kind}{path}"
        assert node.get("type") != "null"
        assert "default" not in node or node["default"] is not None, f"{kind}{path}"


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_every_property_has_a_description(kind: str):
    undocumented = [
        f"{path}.{name}"
        for path, node in nodes(schema_of(kind))
        for name, child in node.get("properties", {}).items()
        if not child.get("description")
        and f"{path}.{name}" != ".metadata"
        and not f"{path}.{name}".startswith(CORE_FIELDS.get(kind, ()))
    ]
    assert undocumented == []


def test_cel_rules_only_iterate_bounded_lists():
    """The API server estimates each rule's cost from maxItems/maxProperties/maxLength; unbounded
    lists and maps blow the budget."""
    for kind, path, node in ALL_NODES:
        for rule in node.get("x-kubernetes-validations", []):
            for name in re.findall(r"self((?:\.\w+)+)\.(?:exists|all|map|exists_one)\(", rule["rule"]):
                target = at(kind, path + name)
                bound = "maxProperties" if target.get("type") == "object" else "maxItems"
                assert bound in target, f"{kind}{path}{name} is iterated by CEL without {bound}"
            if node.get("type") == "array" and re.search(r"\bself\.(all|exists|map)", rule["rule"]):
                assert "maxItems" in node, f"{kind}{path}"


def test_cel_messages_name_their_field():
    for kind, path, node in ALL_NODES:
        for rule in node.get("x-kubernetes-validations", []):
            field = path.rsplit(".", 1)[-1] or "spec"
            named = field in rule["message"] or any(
                f in rule["message"] for f in re.findall(r"self\.(\w+)", rule["rule"])
            )
            assert named, f"{kind}{path}: {rule['message']!r} does not name a field"


@pytest.mark.parametrize(
    ("kind", "path", "fragment"),
    [
        ("TrainingJob", ".spec.template", "c.name == 'trainer'"),
        ("TrainingJob", ".spec.template", "self.spec.restartPolicy == 'Never'"),
        ("TrainingJob", ".spec.elastic", "self.minReplicas <= self.maxReplicas"),
        ("TrainingJob", ".spec", "self.replicas <= self.elastic.maxReplicas"),
        ("TrainingJob", ".spec", "self.checkpoint.volume"),
        ("TrainingJob", ".spec.output", "'latest'"),
        ("ModelVersion", ".spec", "self == oldSelf"),
        ("ModelVersion", ".spec", "self.version != 'latest'"),
        ("InferenceService", ".spec.model", "self.version.matches"),
        ("InferenceService", ".spec.autoscaling", "self.minReplicas <= self.maxReplicas"),
        ("InferenceService", ".spec.autoscaling", "has(self.query)"),
        ("InferenceService", ".spec.autoscaling", "has(self.scaleToZero)"),
        ("InferenceService", ".spec.rollout.steps", "isSorted()"),
        ("InferenceService", ".spec", "self.traffic.mirrorPercent > 0"),
        ("InferenceService", ".spec.rollout.steps.[]", "!has(self.pauseSeconds)"),
        ("InferenceService", ".spec.rollout.analysis.custom.[]", "has(self.max) || has(self.min)"),
    ],
)
def test_cel_rule_is_attached_where_it_applies(kind: str, path: str, fragment: str):
    rules = [r["rule"] for r in at(kind, path).get("x-kubernetes-validations", [])]
    assert any(fragment in r for r in rules), rules


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        ("TrainingJob", ".spec.replicas", {"type": "integer", "default": 1, "minimum": 1, "maximum": 1000}),
        ("TrainingJob", ".spec.masterPort", {"default": 29500}),
        ("TrainingJob", ".spec.scheduling", {"default": {"gang": True, "preemptible": False}}),
        ("TrainingJob", ".spec.runPolicy.restartPolicy", {"enum": ["OnFailure", "Never", "ExitCode"]}),
        ("TrainingJob", ".spec.runPolicy.cleanPodPolicy", {"default": "Running"}),
        ("TrainingJob", ".spec.runPolicy.backoffLimit", {"default": 3, "minimum": 0}),
        ("TrainingJob", ".spec.template", {"x-kubernetes-preserve-unknown-fields": None, "type": "object"}),
        ("TrainingJob", ".spec.template.spec.containers", {"minItems": 1, "maxItems": 16}),
        (
            "TrainingJob",
            ".spec.template.spec.containers.[].imagePullPolicy",
            {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]},
        ),
        ("TrainingJob", ".spec.template.spec.volumes.[].hostPath.path", {"type": "string"}),
        ("TrainingJob", ".spec.template.spec.containers.[].volumeMounts.[].name", {"minLength": 1}),
        (
            "TrainingJob",
            ".spec.template.metadata",
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        ),
        ("TrainingJob", ".spec.template.metadata.labels", {"additionalProperties": {"type": "string"}}),
        (
            "TrainingJob",
            ".spec.output.version",
            {"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        ),
        ("TrainingJob", ".status.startTime", {"type": "string", "format": "date-time"}),
        (
            "TrainingJob",
            ".status.conditions",
            {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
        ),
        ("TrainingJob", ".status.conditions.[].status", {"enum": ["True", "False", "Unknown"]}),
        ("TrainingJob", ".status.metrics", {"type": "object", "additionalProperties": {"type": "number"}}),
        ("ModelVersion", ".spec.source.digest", {"pattern": "^sha256:[a-f0-9]{64}$"}),
        ("InferenceService", ".spec.server.image", {"default": "lepton/server:dev"}),
        ("InferenceService", ".spec.server.resources.limits.*", {"x-kubernetes-int-or-string": True}),
        ("InferenceService", ".spec.server.env", {"x-kubernetes-list-type": "map"}),
        (
            "InferenceService",
            ".spec.autoscaling.target",
            {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        ),
        ("InferenceService", ".spec.autoscaling.tolerance", {"default": 0.1, "minimum": 0, "maximum": 1}),
        (
            "InferenceService",
            ".spec.rollout.steps",
            {"default": [{"weight": 20, "pauseSeconds": 60}, {"weight": 50, "pauseSeconds": 60}]},
        ),
        ("InferenceService", ".spec.server.imagePullPolicy", {"enum": ["Always", "IfNotPresent", "Never"]}),
    ],
)
def test_schema_carries_types_bounds_and_defaults(kind: str, path: str, expected: dict[str, Any]):
    node = at(kind, path.removesuffix(".*"))
    if path.endswith(".*"):
        node = node["additionalProperties"]
    assert {k: node.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    ("kind", "short", "columns"),
    [
        (
            "TrainingJob",
            ["tj"],
            [
                "Phase",
                "Ready",
                "Workers",
                "Size",
                "GPUs",
                "Restarts",
                "Step",
                "Loss",
                "Position",
                "Waiting For",
                "Epoch",
                "Samples/s",
                "Progress",
                "Model",
                "Queue",
                "Sized",
                "Age",
            ],
        ),
        ("ModelVersion", ["mv"], ["Model", "Version", "Phase", "Format", "Size", "Job", "Age"]),
        (
            "InferenceService",
            ["lisvc"],
            ["Model", "Version", "Ready", "Desired", "Autoscaled", "Metric", "Canary", "Phase", "URL", "Age"],
        ),
    ],
)
def test_names_columns_and_subresources(kind: str, short: list[str], columns: list[str]):
    spec = CRDS[kind]["spec"]
    assert spec["names"]["shortNames"] == short
    assert spec["names"]["categories"] == ["lepton"]
    assert spec["scope"] == "Namespaced"
    version = spec["versions"][0]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == columns
    for column in version["additionalPrinterColumns"]:
        if column["jsonPath"].startswith(".metadata"):
            continue
        node = at(kind, column["jsonPath"])
        assert node.get("type") == column["type"] or column["type"] == "date", column
    assert version["subresources"]["status"] == {}
    assert ("scale" in version["subresources"]) == (kind == "InferenceService")


def test_scale_subresource_paths_exist_with_the_right_types():
    scale = CRDS["InferenceService"]["spec"]["versions"][0]["subresources"]["scale"]
    assert at("InferenceService", scale["specReplicasPath"])["type"] == "integer"
    assert at("InferenceService", scale["statusReplicasPath"])["type"] == "integer"
    assert at("InferenceService", scale["labelSelectorPath"])["type"] == "string"


@pytest.mark.parametrize(
    ("kind", "max_length"), [("TrainingJob", 52), ("InferenceService", 52), ("ModelVersion", None)]
)
def test_object_names_are_restricted_where_they_become_dns_labels(kind: str, max_length: int | None):
    metadata = schema_of(kind)["properties"]["metadata"]
    assert metadata.get("properties", {}).get("name", {}).get("maxLength") == max_length


def test_unions_that_are_not_structural_are_refused():
    class Bad(LeptonModel):
        value: int | list[str]
        """A union of unrelated types."""

    with pytest.raises(SchemaError, match=r"Bad\.value: unions other than"):
        openapi_schema(Bad)


def test_optional_int_or_string_and_exclusive_bounds_convert():
    class Good(LeptonModel):
        count: Optional[Annotated[int, Field(gt=0, lt=10)]] = None  # noqa: UP045
        """A bounded count."""
        quantity: int | str = 1
        """A quantity."""

    props = openapi_schema(Good)["properties"]
    assert props["count"] == {
        "description": "A bounded count.", "type": "integer",
        "minimum": 0, "exclusiveMinimum": True, "maximum": 10, "exclusiveMaximum": True,
    }  # fmt: skip
    assert props["quantity"] == {
        "description": "A quantity.",
        "x-kubernetes-int-or-string": True,
        "default": 1,
    }
