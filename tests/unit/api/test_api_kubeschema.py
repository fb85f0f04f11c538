"""The core/v1 schemas embedded in the CRDs: trimmed from the API server's OpenAPI document, inlined
into structural schemas, and laid under the Lepton models' own constraints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lepton.api import kubeschema
from lepton.api.crd import SchemaError, overlay
from lepton.api.kubeschema import KubeSchemaError, inline, trim

CORE = "io.k8s.api.core.v1."
REF = "#/components/schemas/"


def ref(name: str) -> dict[str, Any]:
    return {"allOf": [{"$ref": REF + name}], "default": {}, "description": "inlined, not kept"}


# A miniature of /openapi/v3/api/v1 in the shapes kube-apiserver v1.35 writes.
OPENAPI: dict[str, Any] = {
    "components": {
        "schemas": {
            CORE + "PodTemplateSpec": {
                "description": "gone",
                "type": "object",
                "properties": {
                    "metadata": ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
                    "spec": ref(CORE + "PodSpec"),
                },
            },
            CORE + "PodSpec": {
                "type": "object",
                "required": ["containers"],
                "properties": {
                    "containers": {
                        "type": "array",
                        "items": ref(CORE + "Container"),
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "x-kubernetes-patch-strategy": "merge",
                        "x-kubernetes-patch-merge-key": "name",
                    },
                    "nodeSelector": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "default": ""},
                        "x-kubernetes-map-type": "atomic",
                    },
                },
            },
            CORE + "Container": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "default": ""},
                    "imagePullPolicy": {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]},
                    "ports": {
                        "type": "array",
                        "items": ref(CORE + "ContainerPort"),
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                    },
                    "resources": ref(CORE + "ResourceRequirements"),
                },
            },
            CORE + "ContainerPort": {
                "type": "object",
                "required": ["containerPort"],
                "properties": {
                    "containerPort": {"type": "integer", "format": "int32", "default": 0},
                    "protocol": {"type": "string", "default": "TCP"},
                },
            },
            CORE + "ResourceRequirements": {
                "type": "object",
                "properties": {
                    "limits": {
                        "type": "object",
                        "additionalProperties": ref("io.k8s.apimachinery.pkg.api.resource.Quantity"),
                    }
                },
            },
            CORE + "EnvVar": {"type": "object", "properties": {"name": {"type": "string"}}},
            CORE + "Toleration": {"type": "object", "properties": {"key": {"type": "string"}}},
            CORE + "Unrelated": {"type": "object"},
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
                "type": "object",
                "properties": {"managedFields": ref("io.k8s.apimachinery.pkg.apis.meta.v1.Fields")},
            },
            "io.k8s.apimachinery.pkg.api.resource.Quantity": {
                "oneOf": [{"type": "string"}, {"type": "number"}]
            },
        }
    }
}


def test_trim_keeps_what_the_roots_reach_without_descriptions_or_merge_hints():
    defs = trim(OPENAPI)
    assert CORE + "Unrelated" not in defs
    assert set(defs) >= {CORE + "Container", CORE + "ContainerPort", CORE + "EnvVar", CORE + "Toleration"}
    # A template's metadata is not followed (its managedFields would pull in half of meta/v1).
    assert defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"] == {"type": "object"}
    text = json.dumps(defs)
    assert "description" not in text
    assert "x-kubernetes-patch" not in text


def test_trim_names_a_missing_definition():
    broken = json.loads(json.dumps(OPENAPI))
    del broken["components"]["schemas"][CORE + "ContainerPort"]
    with pytest.raises(KubeSchemaError, match="ContainerPort: not in the OpenAPI document"):
        trim(broken)


def test_inline_gives_one_structural_schema():
    schema = inline(kubeschema.POD_TEMPLATE, trim(OPENAPI))
    opaque = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert schema["properties"]["metadata"] == opaque
    spec = schema["properties"]["spec"]
    assert spec["required"] == ["containers"]
    containers = spec["properties"]["containers"]
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    container = containers["items"]
    # Zero-value defaults of required fields would make "required" meaningless: they go.
    assert container["properties"]["name"] == {"type": "string"}
    assert container["properties"]["imagePullPolicy"]["enum"] == ["Always", "IfNotPresent", "Never"]
    port = container["properties"]["ports"]["items"]
    # ...except where a list-map key is optional: the API server needs a default there.
    assert port["properties"] == {
        "containerPort": {"type": "integer"},
        "protocol": {"type": "string", "default": "TCP"},
    }
    limit = container["properties"]["resources"]["properties"]["limits"]["additionalProperties"]
    assert limit == {"x-kubernetes-int-or-string": True, "pattern": kubeschema.QUANTITY_PATTERN}
    assert spec["properties"]["nodeSelector"] == {
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "additionalProperties": {"type": "string"},
    }


def test_inline_refuses_what_a_crd_cannot_say():
    defs = trim(OPENAPI)
    defs[CORE + "EnvVar"]["properties"]["name"] = {"oneOf": [{"type": "string"}, {"type": "boolean"}]}
    with pytest.raises(KubeSchemaError, match=r"EnvVar\.name: keywords \['oneOf'\]"):
        inline(kubeschema.ENV_VAR, defs)
    defs[CORE + "EnvVar"]["properties"]["name"] = {"$ref": REF + CORE + "EnvVar"}
    with pytest.raises(KubeSchemaError, match="refers to itself"):
        inline(kubeschema.ENV_VAR, defs)


def test_committed_copy_is_exactly_the_trimmed_closure():
    committed = kubeschema.load()
    assert trim({"components": {"schemas": committed}}) == committed
    assert kubeschema.SCHEMA_FILE.read_text() == kubeschema.render(committed)
    for root in kubeschema.ROOTS:
        inline(root, committed)  # every root converts


def test_overlay_adds_the_models_constraints_to_the_core_schema():
    core = inline(kubeschema.POD_TEMPLATE, trim(OPENAPI))
    lepton = {
        "description": "Pod template.",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-validations": [{"rule": "true", "message": "m"}],
        "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "spec": {
                "type": "object",
                "required": ["containers"],
                "properties": {"containers": {"type": "array", "maxItems": 16}},
            },
        },
    }
    merged = overlay(core, lepton, "t")
    assert next(iter(merged)) == "description"
    assert "x-kubernetes-preserve-unknown-fields" not in merged
    assert merged["x-kubernetes-validations"] == [{"rule": "true", "message": "m"}]
    assert merged["properties"]["metadata"]["properties"] == {"labels": {"type": "object"}}
    spec = merged["properties"]["spec"]
    assert spec["required"] == ["containers"]
    assert spec["properties"]["containers"]["maxItems"] == 16
    assert "imagePullPolicy" in spec["properties"]["containers"]["items"]["properties"]


def test_overlay_refuses_a_field_or_type_the_core_type_does_not_have():
    core = inline(kubeschema.ENV_VAR, trim(OPENAPI))
    with pytest.raises(SchemaError, match=r"e\.nmae: the core type has no such field"):
        overlay(core, {"properties": {"nmae": {"type": "string"}}}, "e")
    with pytest.raises(SchemaError, match=r"e\.name: the model says integer, the core type string"):
        overlay(core, {"properties": {"name": {"type": "integer"}}}, "e")
