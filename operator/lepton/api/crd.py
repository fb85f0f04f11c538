"""CRD generation: pydantic JSON schema -> structural OpenAPI v3 schema -> CustomResourceDefinition.

The API server accepts only structural schemas (https://kubernetes.io/docs/tasks/extend-kubernetes/
custom-resources/custom-resource-definitions/#specifying-a-structural-schema): every node has a type
(or x-kubernetes-int-or-string / x-kubernetes-preserve-unknown-fields), no $ref, no anyOf of types,
no null type. The conversion below inlines $defs, turns Optional into a plain optional property,
`int | str` into x-kubernetes-int-or-string, open models (extra="allow") and dict[str, Any] into
x-kubernetes-preserve-unknown-fields, JSON Schema's numeric exclusiveMinimum into OpenAPI v3's boolean
form, and refuses any keyword it does not know, so a new pydantic feature cannot slip through silently.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from lepton.api import clusterqueue, inferenceservice, kubeschema, modelversion, trainingjob
from lepton.api.common import API_VERSION, CATEGORY, CORE_TYPE, DNS1035_LABEL_PATTERN, GROUP, VERSION

Schema = dict[str, Any]

_COPIED = ("description", "default", "enum", "pattern", "minLength", "maxLength", "minItems", "maxItems",
           "minimum", "maximum", "required", "maxProperties", "minProperties")  # fmt: skip
_FORMATS = {"date-time"}
_IGNORED = {"title", "$defs"}


class _Generator(GenerateJsonSchema):
    """Emits the value of default factories as the default, so nested defaults reach the CRD."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is None or schema.get("default_factory_takes_data"):
            return super().get_default_value(schema)
        value = factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return value.model_dump(by_alias=True, exclude_none=True, mode="json")
        if isinstance(value, list):
            return [v.model_dump(by_alias=True, exclude_none=True, mode="json") for v in value]
        return NoDefault if value is None else value


def _description(text: str) -> str:
    """Docstrings are wrapped for the source; kubectl explain wraps again, so join the lines."""
    return "\n\n".join(" ".join(p.split()) for p in text.strip().split("\n\n"))


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


class SchemaError(ValueError):
    """The pydantic schema has something a structural CRD schema cannot express."""


def _resolve(node: Schema, defs: dict[str, Schema], where: str) -> Schema:
    """Merge $ref / single allOf / Optional anyOf into one node; the outer keys win except
    x-kubernetes-validations, which add up (rules of the type plus rules of the field)."""
    node = dict(node)
    if "$ref" in node:
        inner = copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[-1]])
    elif "allOf" in node:
        (inner,) = node.pop("allOf")
    elif "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
        if len(options) == 1:
            inner = options[0]
        elif sorted(o.get("type") for o in options) == ["integer", "string"]:
            inner = {"x-kubernetes-int-or-string": True}
        else:
            raise SchemaError(f"{where}: unions other than Optional[X] and int | str are not structural")
    else:
        return node
    inner = _resolve(inner, defs, where)
    rules = inner.get("x-kubernetes-validations", []) + node.pop("x-kubernetes-validations", [])
    merged = {**inner, **node}
    if rules:
        merged["x-kubernetes-validations"] = rules
    return merged


def structural(node: Schema, defs: dict[str, Schema], where: str = "") -> Schema:
    """Convert one pydantic JSON-schema node (and its children) to a structural OpenAPI v3 node.

    A model that stands for a core/v1 type (CORE_TYPE in its schema) gets that type's whole schema
    (lepton.api.kubeschema), with what the model adds (descriptions, bounds, rules) laid over it."""
    node = _resolve(node, defs, where)
    core_type = node.pop(CORE_TYPE, None)
    if core_type is not None:
        lepton = structural(node, defs, where)
        return overlay(kubeschema.inline(core_type, kubeschema.load()), lepton, f"{where} ({core_type})")
    out: Schema = {}
    if "description" in node:
        out["description"] = _description(node["description"])
    if "const" in node:
        node["enum"] = [node.pop("const")]
    kind = node.get("type")
    if kind is not None:
        out["type"] = kind
    for key, value in node.items():
        if key in _IGNORED or key in ("type", "description"):
            continue
        if key == "properties":
            out["properties"] = {
                name: structural(child, defs, f"{where}.{name}") for name, child in value.items()
            }
        elif key == "items":
            out["items"] = structural(value, defs, f"{where}[]")
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif value is False:
                pass  # structural schemas prune unknown fields already
            elif "properties" in node:
                raise SchemaError(f"{where}: properties and additionalProperties exclude each other")
            else:
                out["additionalProperties"] = structural(value, defs, f"{where}.*")
        elif key == "exclusiveMinimum":
            out["minimum"], out["exclusiveMinimum"] = value, True
        elif key == "exclusiveMaximum":
            out["maximum"], out["exclusiveMaximum"] = value, True
        elif key == "format":
            if value in _FORMATS:
                out["format"] = value
        elif key == "default":
            if value is not None:
                out["default"] = _strip_none(value)
        elif key in _COPIED or key.startswith("x-kubernetes-"):
            out[key] = value
        elif key == "propertyNames":
            pass  # map key constraints are not expressible; the value schema still applies
        else:
            raise SchemaError(f"{where}: JSON schema keyword {key!r} has no structural equivalent")
    if "type" not in out and not (
        out.get("x-kubernetes-int-or-string") or out.get("x-kubernetes-preserve-unknown-fields")
    ):
        raise SchemaError(f"{where}: a structural schema needs a type")
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def overlay(core: Schema, lepton: Schema, where: str) -> Schema:
    """``core`` with the constraints of ``lepton`` (a partial model of the same type) added; the
    model's descriptions, bounds and patterns win, rules and required fields add up, and its
    x-kubernetes-preserve-unknown-fields goes: the core schema knows every field."""
    if "type" in core and "type" in lepton and core["type"] != lepton["type"]:
        raise SchemaError(f"{where}: the model says {lepton['type']}, the core type {core['type']}")
    out = dict(core)
    for key, value in lepton.items():
        if key == "x-kubernetes-preserve-unknown-fields":
            continue
        if key == "properties":
            fields = dict(core.get("properties", {}))
            for name, child in value.items():
                if name in fields:
                    fields[name] = overlay(fields[name], child, f"{where}.{name}")
                elif core.get("x-kubernetes-preserve-unknown-fields"):
                    fields[name] = child  # left open by kubeschema (a template's metadata)
                else:
                    raise SchemaError(f"{where}.{name}: the core type has no such field")
            out["properties"] = fields
        elif key in ("items", "additionalProperties") and isinstance(core.get(key), dict):
            out[key] = overlay(core[key], value, f"{where}[]" if key == "items" else f"{where}.*")
        elif key in ("required", "x-kubernetes-validations"):
            out[key] = [*core.get(key, []), *(v for v in value if v not in core.get(key, []))]
        else:
            out[key] = value
    if "description" in out:
        out = {"description": out.pop("description"), **out}
    return out


def openapi_schema(model: type[BaseModel]) -> Schema:
    """The structural OpenAPI v3 schema of a whole object of kind `model`."""
    raw = model.model_json_schema(by_alias=True, schema_generator=_Generator)
    schema = structural(raw, raw.get("$defs", {}), model.__name__)
    schema.pop("default", None)
    return schema


@dataclass(frozen=True)
class Column:
    """An additionalPrinterColumn."""

    name: str
    type: str
    json_path: str
    description: str
    priority: int = 0
    format: str | None = None

    def render(self) -> Schema:
        out: Schema = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.format:
            out["format"] = self.format
        out["description"] = self.description
        if self.priority:
            out["priority"] = self.priority
        return out


AGE = Column("Age", "date", ".metadata.creationTimestamp", "Time since the object was created.")


@dataclass(frozen=True)
class Kind:
    """What the CRD of one kind is made of."""

    model: type[BaseModel]
    plural: str
    singular: str
    short_names: list[str]
    columns: list[Column]
    name_max_length: int | None = None
    scale: Schema | None = None
    cluster_scoped: bool = False

    @property
    def kind(self) -> str:
        return self.model.__name__

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


KINDS = [
    Kind(
        trainingjob.TrainingJob,
        trainingjob.PLURAL,
        trainingjob.SINGULAR,
        trainingjob.SHORT_NAMES,
        [
            Column("Phase", "string", ".status.phase", "Where the job is."),
            Column("Ready", "integer", ".status.replicas.ready", "Worker pods running and ready."),
            Column("Workers", "integer", ".spec.replicas", "Worker pods wanted."),
            Column("Size", "integer", ".status.size", "Elastic: workers the job runs with now."),
            Column("GPUs", "integer", ".status.gpus", "GPUs the job holds."),
            Column("Restarts", "integer", ".status.restartCount", "Times the job was restarted."),
            Column("Step", "integer", ".status.progress.step", "Optimizer steps rank 0 reported."),
            Column("Loss", "number", ".status.progress.loss", "Latest training loss rank 0 reported."),
            Column("Position", "integer", ".status.queuePosition", "Place in its queue while Queued."),
            Column("Waiting For", "string", ".status.admissionMessage", "What a Queued job waits for."),
            Column("Epoch", "number", ".status.progress.epoch", "Epochs completed.", priority=1),
            Column(
                "Samples/s", "number", ".status.progress.samplesPerSecond", "Training throughput.", priority=1
            ),
            Column("Progress", "date", ".status.progress.lastUpdate", "Age of the progress.", priority=1),
            Column("Model", "string", ".status.modelVersion", "ModelVersion made.", priority=1),
            Column("Queue", "string", ".spec.scheduling.queue", "ClusterQueue the job waits in.", priority=1),
            Column("Sized", "string", ".status.sizeReason", "Elastic: why the job has its size.", priority=1),
            AGE,
        ],
        name_max_length=trainingjob.MAX_NAME_LENGTH,
    ),
    Kind(
        modelversion.ModelVersion,
        modelversion.PLURAL,
        modelversion.SINGULAR,
        modelversion.SHORT_NAMES,
        [
            Column("Model", "string", ".spec.model", "Name of the model."),
            Column("Version", "string", ".spec.version", "Version of the model."),
            Column("Phase", "string", ".status.phase", "Verification state."),
            Column("Format", "string", ".spec.source.format", "Artifact format.", priority=1),
            Column("Size", "integer", ".status.sizeBytes", "Size of the model file in bytes.", priority=1),
            Column("Job", "string", ".spec.origin.trainingJob.name", "TrainingJob that made it.", priority=1),
            AGE,
        ],
    ),
    Kind(
        inferenceservice.InferenceService,
        inferenceservice.PLURAL,
        inferenceservice.SINGULAR,
        inferenceservice.SHORT_NAMES,
        [
            Column("Model", "string", ".spec.model.name", "Model served."),
            Column("Version", "string", ".status.currentVersion", "Version serving stable traffic."),
            Column("Ready", "integer", ".status.readyReplicas", "Replicas ready to serve."),
            Column("Desired", "integer", ".spec.replicas", "Replicas wanted (without autoscaling)."),
            Column(
                "Autoscaled",
                "integer",
                ".status.autoscaler.desiredReplicas",
                "Replicas the autoscaler wants.",
            ),
            Column(
                "Metric",
                "number",
                ".status.autoscaler.metricValue",
                "Last autoscaling metric value.",
                priority=1,
            ),
            Column("Canary", "integer", ".status.canary.weight", "Traffic percentage of the canary."),
            Column("Phase", "string", ".status.phase", "Where the service is."),
            Column("URL", "string", ".status.url", "Inference endpoint."),
            AGE,
        ],
        name_max_length=inferenceservice.MAX_NAME_LENGTH,
        scale={
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    ),
    Kind(
        clusterqueue.ClusterQueue,
        clusterqueue.PLURAL,
        clusterqueue.SINGULAR,
        clusterqueue.SHORT_NAMES,
        [
            Column("Strategy", "string", ".spec.queueingStrategy", "StrictFIFO or BestEffortFIFO."),
            Column("GPUs", "integer", ".spec.nominalQuota.gpus", "Nominal GPU quota."),
            Column(
                "Reserve After",
                "integer",
                ".spec.reservationAfterSeconds",
                "Seconds at the head before a reservation.",
            ),
            AGE,
        ],
        cluster_scoped=True,
    ),
]


def crd(kind: Kind) -> Schema:
    """The CustomResourceDefinition of `kind` as a plain dict (ready for yaml.safe_dump)."""
    schema = openapi_schema(kind.model)
    props = schema["properties"]
    props["apiVersion"] = {"type": "string", "description": _description(_API_VERSION_DOC)}
    props["kind"] = {"type": "string", "description": _description(_KIND_DOC)}
    # The API server allows only type and name/generateName restrictions here (no description).
    metadata: Schema = {"type": "object"}
    if kind.name_max_length is not None:
        # The name becomes a Service name and a pod hostname prefix: it must be a DNS-1035 label
        # short enough for the suffixes the operator appends.
        metadata["properties"] = {
            "name": {
                "description": f"Name: a DNS-1035 label of at most {kind.name_max_length} characters.",
                "type": "string",
                "maxLength": kind.name_max_length,
                "pattern": DNS1035_LABEL_PATTERN,
            }
        }
    props["metadata"] = metadata
    props = {k: props[k] for k in ("apiVersion", "kind", "metadata", "spec", "status") if k in props}
    schema["properties"] = props
    schema["required"] = ["spec"]
    # A kind without a status (ClusterQueue) gets no status subresource.
    subresources: Schema = {"status": {}} if "status" in props else {}
    if kind.scale is not None:
        subresources["scale"] = kind.scale
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/name": "lepton", "app.kubernetes.io/part-of": "lepton"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Cluster" if kind.cluster_scoped else "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": subresources,
                    "additionalPrinterColumns": [c.render() for c in kind.columns],
                }
            ],
        },
    }


_API_VERSION_DOC = f"""APIVersion defines the versioned schema of this representation of an object:
{API_VERSION}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"""
_KIND_DOC = """Kind is a string value representing the REST resource this object represents.
More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"""
