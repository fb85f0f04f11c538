"""Hypothesis strategies for Lepton objects, drawn from the CRDs' own schemas (crds/*.yaml), and the
one-field mutations that make a valid object nearly valid.

Generating from the schema the API server enforces keeps the strategies in step with the API: a new
field is fuzzed the day it is added. Values are kept small where the schema alone would let one
object ask for a thousand pods (the fuzz is about input handling, not about capacity), and fields
the schema leaves free but Kubernetes checks later (a pod's restartPolicy, label keys, quantities)
are drawn from what Kubernetes accepts, so a finding is Lepton's, not a typo the generator made.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import strategies as st

from support.paths import CRDS_DIR

GROUP_VERSION = "lepton.ai/v1alpha1"
KINDS = {
    "TrainingJob": "trainingjobs",
    "ModelVersion": "modelversions",
    "InferenceService": "inferenceservices",
}
MAX_ITEMS = 2
SMALL_INTS = {"replicas": 3, "minReplicas": 2, "maxReplicas": 3, "nprocPerNode": 2, "fallbackReplicas": 3}
"""Upper bounds for counts that become pods."""

WORD = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
PRINTABLE = st.characters(min_codepoint=33, max_codepoint=126)
QUANTITY = st.sampled_from(["1", "100m", "2", "256Mi", 1])
HINTS: dict[str, st.SearchStrategy[Any]] = {
    "image": st.sampled_from(["lepton/server:test", "lepton/trainer:test", "busybox:1.36"]),
    "restartPolicy": st.sampled_from(["Never", "OnFailure"]),
    "priorityClassName": st.just(""),
    "schedulerName": st.just(""),
    "query": st.sampled_from(
        ["vector(1)", 'sum(rate(lepton_serving_requests_total{service="{{service}}"}[1m]))']
    ),
    "prometheusUrl": st.just("http://127.0.0.1:9/"),  # nothing listens: the failure is reported, not fatal
    "uri": st.sampled_from(["file:///models/iris/v1", "pvc://models/iris", "s3://bucket/iris"]),
    "name": st.one_of(st.just("iris"), WORD),  # sometimes the model with a Ready version
    "key": WORD,
    "version": st.sampled_from(["latest", "v1", "v2"]),
    "model": st.just("iris"),
}
"""Values for free strings the API server does not check but a child object or the model server
would (or that would reach outside the machine)."""


def _with_images(spec: dict[str, Any]) -> dict[str, Any]:
    """Every container with an image and requests within limits: core/v1 checks both only when the
    pod is created, which the CRD cannot say yet (#17 item 6); those cases are regressions of their
    own (REGRESSIONS)."""
    for container in spec.get("template", {}).get("spec", {}).get("containers", []):
        container.setdefault("image", "lepton/trainer:test")
        resources = container.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        for name in set(limits) & set(requests):  # a request above its limit: the same class of case
            requests[name] = limits[name]
    return spec


def _trainer_first(spec: dict[str, Any]) -> dict[str, Any]:
    """Lepton's own rules on a TrainingJob's template (CEL in the CRD): a container named trainer,
    restartPolicy Never. Kept by most draws so that they get past admission to the operator."""
    pod = spec.get("template", {}).get("spec", {})
    if pod.get("containers"):
        pod["containers"][0]["name"] = "trainer"
    if "restartPolicy" in pod:
        pod["restartPolicy"] = "Never"
    return spec


def _no_latest(spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("version") == "latest":  # reserved: the newest Ready version
        spec["version"] = "v9"
    return spec


ALWAYS = {"TrainingJob": _with_images}
MOSTLY = {"TrainingJob": _trainer_first, "ModelVersion": _no_latest}


def valid_spec(kind: str, schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Specs the schema accepts; two in three also meet the CRD's CEL rules a draw rarely meets."""
    drawn = value_of(schema, "spec").map(ALWAYS.get(kind, lambda spec: spec))
    fixup = MOSTLY.get(kind)
    if fixup is None:
        return drawn
    return st.one_of(drawn.map(fixup), drawn.map(fixup), drawn)


def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS_DIR / f"{KINDS[kind]}.yaml").read_text())
    spec: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return spec


def _string(name: str, node: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if node.get("format") == "date-time":
        return st.just("2026-01-01T00:00:00Z")
    if name in HINTS:
        return HINTS[name]
    pattern = node.get("pattern")
    low, high = node.get("minLength", 0), min(node.get("maxLength", 32), 32)
    if pattern:
        longest = node.get("maxLength", 10**6)
        return st.from_regex(pattern, fullmatch=True, alphabet=PRINTABLE).filter(
            lambda s: low <= len(s) <= longest
        )
    return st.text(
        alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=max(low, 1), max_size=max(high, 1)
    )


def _number(name: str, node: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low = node.get("minimum", 0)
    high = node.get("maximum", low + 100)
    if name in SMALL_INTS:
        high = min(high, max(low, SMALL_INTS[name]))
    if integer:
        return st.integers(int(low), int(high))
    return st.floats(float(low), float(high), allow_nan=False, allow_infinity=False)


def value_of(node: dict[str, Any], name: str = "", depth: int = 0) -> st.SearchStrategy[Any]:
    """Values the schema ``node`` accepts (CEL rules aside: those rejections are counted too)."""
    if node.get("x-kubernetes-int-or-string"):
        return QUANTITY
    kind = node.get("type")
    if kind == "string":
        return _string(name, node)
    if kind in ("integer", "number"):
        return _number(name, node, kind == "integer")
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        high = min(node.get("maxItems", MAX_ITEMS), MAX_ITEMS)
        low = min(node.get("minItems", 0), high)
        return st.lists(value_of(node["items"], name, depth + 1), min_size=low, max_size=high)
    if kind == "object":
        return _object(node, name, depth)
    return st.just(None)


def _object(node: dict[str, Any], name: str, depth: int) -> st.SearchStrategy[Any]:
    properties: dict[str, Any] = node.get("properties") or {}
    extra = node.get("additionalProperties")
    if not properties and isinstance(extra, dict):
        # Map values are label values, quantities or numbers: what Kubernetes accepts in each.
        values = {"string": WORD}.get(extra.get("type", ""), value_of(extra, name, depth + 1))
        values = QUANTITY if name in ("limits", "requests") else values
        keys = st.sampled_from(["cpu", "memory"]) if name in ("limits", "requests") else WORD
        return st.dictionaries(keys, values, max_size=MAX_ITEMS)
    if not properties:
        return st.just({})  # an opaque blob (valueFrom, ...): nothing Lepton reads
    required = set(node.get("required") or [])
    parts = {
        key: value_of(child, key, depth + 1)
        for key, child in properties.items()
        if key in required or child.get("type") != "object" or depth < 6
    }
    # Optional fields appear about half the time, so most objects use only some of the API.
    return st.fixed_dictionaries(
        {k: v for k, v in parts.items() if k in required},
        optional={k: v for k, v in parts.items() if k not in required},
    )


# --- mutations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    kind: str
    """wrong-type, out-of-range, unknown-enum, missing-required, extra-field, bad-pattern"""
    path: str
    """The field changed, as the API server names it: spec.a.b[0].c"""


def _locations(node: dict[str, Any], value: Any, path: str) -> list[tuple[str, dict[str, Any], Any]]:
    """Every (path, schema, value) in ``value`` that the schema types."""
    found = [(path, node, value)]
    if isinstance(value, dict) and node.get("properties"):
        for key, child in node["properties"].items():
            if key in value:
                found += _locations(child, value[key], f"{path}.{key}")
    if isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            found += _locations(node["items"], item, f"{path}[{i}]")
    return found


def _options(node: dict[str, Any], value: Any) -> list[tuple[str, Any]]:
    """(mutation kind, new value or a marker) that apply to one location."""
    opaque = node.get("x-kubernetes-preserve-unknown-fields")
    wrong = {"string": 12345, "integer": "twelve", "number": "twelve", "boolean": "yes", "array": {"a": 1}}
    options: list[tuple[str, Any]] = []
    kind = node.get("type")
    if kind in wrong and not node.get("x-kubernetes-int-or-string"):
        options.append(("wrong-type", wrong[kind]))
    if kind == "object" and not opaque:
        options.append(("wrong-type", ["not", "an", "object"]))
    if "maximum" in node:
        options.append(("out-of-range", node["maximum"] + 1))
    if "minimum" in node:
        options.append(("out-of-range", node["minimum"] - 1))
    if "maxLength" in node:
        options.append(("out-of-range", "a" * (node["maxLength"] + 1)))
    if "enum" in node:
        options.append(("unknown-enum", "NotAKnownValue"))
    if "pattern" in node and not re.fullmatch(node["pattern"], "Not A_Valid Value!"):
        options.append(("bad-pattern", "Not A_Valid Value!"))
    if isinstance(value, dict):
        for key in node.get("required") or []:
            if key in value:
                options.append(("missing-required", key))
        if node.get("properties") and not opaque:
            options.append(("extra-field", "unexpectedField"))
    return options


@st.composite
def nearly_valid(
    draw: st.DrawFn, schema: dict[str, Any], spec: dict[str, Any]
) -> tuple[dict[str, Any], Mutation]:
    """``spec`` with exactly one field made invalid in one way."""
    choices = [
        (path, kind, new)
        for path, node, value in _locations(schema, spec, "spec")
        for kind, new in _options(node, value)
    ]
    path, kind, new = draw(st.sampled_from(choices))
    mutated = {"spec": copy.deepcopy(spec)}
    parent, last = _parent(mutated, path)
    if kind == "missing-required":
        del parent[last][new]
        return mutated["spec"], Mutation(kind, f"{path}.{new}")
    if kind == "extra-field":
        parent[last][new] = 1
        return mutated["spec"], Mutation(kind, f"{path}.{new}")
    parent[last] = new
    return mutated["spec"], Mutation(kind, path)


def _parent(root: dict[str, Any], path: str) -> tuple[Any, Any]:
    steps: list[Any] = []
    for part in path.split("."):
        name, *indices = re.split(r"\[(\d+)\]", part)
        steps.append(name)
        steps += [int(i) for i in indices if i != ""]
    node: Any = root
    for step in steps[:-1]:
        node = node[step]
    return node, steps[-1]


def manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": GROUP_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}
