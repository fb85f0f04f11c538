"""The core/v1 schemas of the CRD fields that are Kubernetes types (a TrainingJob's pod template, an
InferenceService's resources, env and tolerations), so the API server refuses a wrong field when the
object is applied instead of when the operator creates the pods.

The source is the OpenAPI v3 document of the Kubernetes version the project pins (kube-apiserver's
/openapi/v3/api/v1). ``trim`` keeps the definitions reachable from ``ROOTS`` without their
descriptions (the TrainingJob CRD must stay well under kubectl apply's 256 KiB annotation limit)
and the result is committed as core_v1.json; ``inline`` turns one definition into a structural CRD
schema, as controller-gen does for Kubeflow's CRDs: $refs inlined, Quantity and IntOrString as
x-kubernetes-int-or-string, no formats, no defaults but those a list-map key needs.

Refresh: `make core-schema` (reads the local API server and regenerates the CRDs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Schema = dict[str, Any]

SCHEMA_FILE = Path(__file__).with_name("core_v1.json")
POD_TEMPLATE = "io.k8s.api.core.v1.PodTemplateSpec"
RESOURCES = "io.k8s.api.core.v1.ResourceRequirements"
ENV_VAR = "io.k8s.api.core.v1.EnvVar"
TOLERATION = "io.k8s.api.core.v1.Toleration"
ROOTS = (POD_TEMPLATE, RESOURCES, ENV_VAR, TOLERATION)
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
# A template's metadata is not followed: its managedFields, ownerReferences... mean nothing in a
# template; the Lepton model types the labels and annotations the operator copies to the pods.
OPAQUE = frozenset({OBJECT_META})
# Dropped by trim: what a structural schema cannot say (descriptions are left to kubectl explain pod).
_TRIMMED = {
    "description", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy", "x-kubernetes-unions"
}  # fmt: skip
# Kept by inline; formats (int32, int64...) and defaults (Go zero values) are not.
_KEPT = (
    "type", "enum", "required",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
)  # fmt: skip
# As controller-gen writes resource.Quantity (an int or a string of this form).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)"
    r"|(\.[0-9]+))))?$"
)


class KubeSchemaError(ValueError):
    """The OpenAPI document has something this conversion does not know."""


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [_name(node["$ref"])] if "$ref" in node else []
        return own + [r for key, value in node.items() if key != "$ref" for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in _TRIMMED}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def trim(openapi: Schema) -> Schema:
    """The definitions reachable from ROOTS (without descriptions), keyed by name."""
    schemas = openapi["components"]["schemas"]
    kept: Schema = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        if name not in schemas:
            raise KubeSchemaError(f"{name}: not in the OpenAPI document")
        kept[name] = {"type": "object"} if name in OPAQUE else _strip(schemas[name])
        if name not in OPAQUE:
            todo.extend(_refs(schemas[name]))
    return dict(sorted(kept.items()))


def load(path: Path = SCHEMA_FILE) -> Schema:
    return dict(json.loads(path.read_text()))


def inline(name: str, defs: Schema) -> Schema:
    """The structural schema of definition ``name``, every $ref inlined."""
    return _convert({"$ref": name}, defs, name, ())


def _convert(node: Schema, defs: Schema, where: str, stack: tuple[str, ...]) -> Schema:
    if "allOf" in node:
        (only,) = node["allOf"]
        return _convert({**only, **{k: v for k, v in node.items() if k != "allOf"}}, defs, where, stack)
    if "$ref" in node:
        name = _name(node["$ref"])
        if name in stack:
            raise KubeSchemaError(f"{where}: {name} refers to itself; a CRD schema cannot")
        if name in (QUANTITY, INT_OR_STRING):
            out: Schema = {"x-kubernetes-int-or-string": True}
            return {**out, "pattern": QUANTITY_PATTERN} if name == QUANTITY else out
        if name in OPAQUE:
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return _convert(defs[name], defs, where, (*stack, name))
    unknown = set(node) - {*_KEPT, "properties", "items", "additionalProperties", "default", "format"}
    if unknown:
        raise KubeSchemaError(f"{where}: keywords {sorted(unknown)} have no structural equivalent here")
    out = {k: node[k] for k in _KEPT if k in node}
    if "properties" in node:
        out["properties"] = {
            key: _convert(child, defs, f"{where}.{key}", stack) for key, child in node["properties"].items()
        }
    if "items" in node:
        out["items"] = _convert(node["items"], defs, f"{where}[]", stack)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _convert(node["additionalProperties"], defs, f"{where}.*", stack)
    keys = out.get("x-kubernetes-list-map-keys", [])
    items = out.get("items", {})
    for key in keys:
        # The API server needs every list-map key required or defaulted (containerPort/protocol).
        default = _default_of(node, defs, key)
        if key not in items.get("required", []) and default is not None:
            items["properties"][key]["default"] = default
    return out


def _default_of(node: Schema, defs: Schema, key: str) -> Any:
    items = node["items"]
    if "allOf" in items:
        items = items["allOf"][0]
    if "$ref" in items:
        items = defs[_name(items["$ref"])]
    return items.get("properties", {}).get(key, {}).get("default")


def render(defs: Schema) -> str:
    return json.dumps(defs, indent=1, sort_keys=True) + "\n"
