"""``manifest.json``: what an artifact holds and how to load it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MANIFEST_FILE = "manifest.json"

ArtifactFormat = Literal["torch-export", "safetensors", "torchscript"]

# Open Inference Protocol v2 datatype names, so a server can advertise them unchanged.
DATATYPES: dict[str, str] = {
    "torch.float32": "FP32",
    "torch.float16": "FP16",
    "torch.bfloat16": "BF16",
    "torch.float64": "FP64",
    "torch.int8": "INT8",
    "torch.int16": "INT16",
    "torch.int32": "INT32",
    "torch.int64": "INT64",
    "torch.uint8": "UINT8",
    "torch.bool": "BOOL",
}

MODEL_FILES: dict[str, str] = {
    "torch-export": "model.pt2",
    "safetensors": "model.safetensors",
    "torchscript": "model.ts",
}


class _Wire(BaseModel):
    # camelCase on the wire, snake_case in Python, like the API models.
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class TensorSpec(_Wire):
    name: str
    datatype: str = Field(description="OIP v2 datatype, e.g. FP32")
    shape: list[int] = Field(description="-1 marks a dynamic dimension (the batch)")


class Manifest(_Wire):
    format: ArtifactFormat
    file: str
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    architecture: str | None = None
    architecture_args: dict[str, Any] = Field(default_factory=dict, alias="architectureArgs")
    inputs: list[TensorSpec] = Field(default_factory=list)
    outputs: list[TensorSpec] = Field(default_factory=list)
    framework: Literal["pytorch"] = "pytorch"
    torch_version: str = Field(default="", alias="torchVersion")
    metrics: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True, indent=2)
