"""Writing artifacts: export the model, write its file and then the manifest that vouches for it."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from lepton.artifacts.digest import file_digest
from lepton.artifacts.errors import ArtifactError
from lepton.artifacts.files import atomic_file, atomic_write
from lepton.artifacts.manifest import DATATYPES, MANIFEST_FILE, MODEL_FILES, Manifest, TensorSpec
from lepton.artifacts.registry import name_of

WRITABLE_FORMATS = ("torch-export", "safetensors")
# The exported program must accept any batch size the server's batcher forms.
MAX_BATCH = 1 << 16


@dataclasses.dataclass(frozen=True)
class ArtifactInfo:
    uri: str
    digest: str
    format: str
    size_bytes: int


def save_artifact(
    model: torch.nn.Module,
    directory: str | Path,
    *,
    format: str = "torch-export",
    example_input: torch.Tensor | None = None,
    input_names: Sequence[str] = ("input",),
    output_names: Sequence[str] = ("output",),
    architecture: str | None = None,
    architecture_args: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> ArtifactInfo:
    """Write ``model`` as an artifact in ``directory`` and return where it is and its digest.

    ``example_input`` is one batch (its first dimension is the batch; it becomes dynamic). The
    model file is written first and the manifest last, each atomically, so a manifest always
    describes a complete model file.
    """
    if format not in WRITABLE_FORMATS:
        raise ArtifactError(
            f"cannot write format {format!r}; writable formats: {', '.join(WRITABLE_FORMATS)}"
        )
    if example_input is None:
        raise ArtifactError("save_artifact needs example_input: one batch of model input")
    if len(input_names) != 1 or len(output_names) != 1:
        raise ArtifactError("artifacts hold models with exactly one input and one output tensor")
    out_dir = Path(directory).resolve()
    model = _unwrap(model)
    with torch.no_grad():
        cpu_model = copy.deepcopy(model).cpu().eval()
        example = _batch_of_two(example_input.detach().cpu())
        output = cpu_model(example)
    if not isinstance(output, torch.Tensor):
        raise ArtifactError(f"the model must return one tensor, it returned {type(output).__name__}")
    file_name = MODEL_FILES[format]
    model_path = out_dir / file_name
    arch: str | None = None
    arch_args: dict[str, Any] = {}
    if format == "torch-export":
        program = _export(cpu_model, example)
        atomic_write(model_path, lambda fh: torch.export.save(program, fh))
    else:
        arch = architecture or name_of(cpu_model)
        if arch is None:
            raise ArtifactError(
                f"safetensors needs a registered architecture; {type(cpu_model).__name__} is not registered "
                "(use lepton.artifacts.register_architecture or pass architecture=)"
            )
        arch_args = dict(architecture_args if architecture_args is not None else _own_args(cpu_model))
        _write_safetensors(cpu_model, model_path)
    digest = file_digest(model_path)
    manifest = Manifest(
        format=format,
        file=file_name,
        digest=digest,
        architecture=arch,
        architecture_args=arch_args,
        inputs=[_spec(input_names[0], example)],
        outputs=[_spec(output_names[0], output)],
        torch_version=str(torch.__version__),
        metrics=_jsonable(metrics or {}),
    )
    atomic_write(out_dir / MANIFEST_FILE, lambda fh: fh.write(manifest.to_json().encode()))
    return ArtifactInfo(
        uri=out_dir.as_uri(), digest=digest, format=format, size_bytes=model_path.stat().st_size
    )


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    # DDP (and FSDP-like wrappers) keep the user's model in .module; the artifact holds the model.
    if isinstance(model, torch.nn.parallel.DistributedDataParallel | torch.nn.DataParallel):
        inner: torch.nn.Module = model.module
        return inner
    return model


def _batch_of_two(example: torch.Tensor) -> torch.Tensor:
    # torch.export specialises a dimension of size 0 or 1, so trace with a batch of at least two.
    if example.dim() == 0:
        raise ArtifactError("example_input must have a batch dimension")
    if example.shape[0] >= 2:
        return example
    if example.shape[0] == 0:
        raise ArtifactError("example_input must hold at least one sample")
    return torch.cat([example, example], dim=0)


def _export(model: torch.nn.Module, example: torch.Tensor) -> Any:
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    try:
        return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    except Exception as exc:
        raise ArtifactError(f"torch.export could not export {type(model).__name__}: {exc}") from exc


def _write_safetensors(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save  # noqa: PLC0415 - only writers of this format need it

    # clone() breaks storage sharing (tied weights), which safetensors refuses to serialise.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    data: bytes = save(tensors, metadata={"format": "pt"})
    with atomic_file(path) as fh:
        fh.write(data)


def _own_args(model: torch.nn.Module) -> Mapping[str, Any]:
    method = getattr(model, "architecture_args", None)
    if callable(method):
        args = method()
        if isinstance(args, Mapping):
            return args
    return {}


def _spec(name: str, tensor: torch.Tensor) -> TensorSpec:
    datatype = DATATYPES.get(str(tensor.dtype))
    if datatype is None:
        raise ArtifactError(f"tensor {name!r} has dtype {tensor.dtype}, which has no OIP v2 datatype")
    return TensorSpec(name=name, datatype=datatype, shape=[-1, *tensor.shape[1:]])


def _jsonable(metrics: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in metrics.items():
        value = raw.item() if isinstance(raw, torch.Tensor) and raw.numel() == 1 else raw
        if isinstance(value, bool | int | str) or (isinstance(value, float) and math.isfinite(value)):
            out[str(key)] = value
    return out
