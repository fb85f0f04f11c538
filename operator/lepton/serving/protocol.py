"""Open Inference Protocol v2 (REST) wire models: what goes over HTTP as JSON.

Tensor data stays untyped here (``Any``): :mod:`lepton.serving.codec` turns it into numpy arrays in
one pass, which is far faster than validating millions of list elements one by one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lepton.serving.errors import InvalidInput

Parameters = dict[str, Any]


class _Wire(BaseModel):
    # Clients add fields of their own (KServe, Triton extensions); ignoring them is what OIP asks.
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class RequestInput(_Wire):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: Any = None


class RequestOutput(_Wire):
    name: str
    parameters: Parameters | None = None


class InferenceRequest(_Wire):
    id: str | None = None
    parameters: Parameters | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class TensorMetadata(_Wire):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(_Wire):
    name: str
    versions: list[str] = Field(default_factory=list)
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(_Wire):
    name: str
    version: str
    extensions: list[str]


def parse_request(header: bytes) -> InferenceRequest:
    """Parse the JSON part of an infer request; malformed JSON or fields raise InvalidInput."""
    try:
        return InferenceRequest.model_validate_json(header)
    except ValidationError as exc:
        raise InvalidInput(f"invalid inference request: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    """A short, client-facing summary of a validation error (first three problems)."""
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
