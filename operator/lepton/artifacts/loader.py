"""Loading artifacts: check the manifest and the digest before any model bytes are deserialised."""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pydantic
import torch

from lepton.artifacts.digest import file_digest
from lepton.artifacts.errors import ArtifactError, unreadable
from lepton.artifacts.manifest import MANIFEST_FILE, Manifest
from lepton.artifacts.registry import architectures

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    module: torch.nn.Module
    manifest: Manifest
    path: Path

    def predict(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out: torch.Tensor = self.module(batch)
        return out


def artifact_path(location: str | Path) -> Path:
    """A local directory from a path or a ``file://`` URI (what ``save_artifact`` returns)."""
    text = str(location)
    if text.startswith("file:"):
        return Path(unquote(urlparse(text).path))
    if "://" in text:
        raise ArtifactError(f"{text}: only local paths and file:// URIs can be loaded directly")
    return Path(text)


def read_manifest(directory: str | Path) -> Manifest:
    path = artifact_path(directory) / MANIFEST_FILE
    try:
        raw = path.read_text()
    except FileNotFoundError:
        raise ArtifactError(
            f"{path.parent}: no {MANIFEST_FILE}; not an artifact or not completely written"
        ) from None
    except PermissionError as exc:
        raise unreadable(exc, path) from exc
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read: {exc}") from exc
    try:
        return Manifest.model_validate(json.loads(raw))
    except (ValueError, pydantic.ValidationError) as exc:
        raise ArtifactError(f"{path}: invalid manifest: {exc}") from exc


def load_artifact(directory: str | Path, *, verify_digest: bool = True, device: str = "cpu") -> LoadedModel:
    root = artifact_path(directory)
    manifest = read_manifest(root)
    if Path(manifest.file).name != manifest.file or manifest.file in ("", ".", ".."):
        raise ArtifactError(f"{root}: manifest names file {manifest.file!r}, which is not a plain file name")
    model_path = root / manifest.file
    if not model_path.is_file():
        raise ArtifactError(f"{root}: model file {manifest.file} is missing")
    try:
        # Opened once here so that a file this uid may not read is reported as such, not as a
        # failure of whichever format loader met it first.
        with model_path.open("rb"):
            pass
    except PermissionError as exc:
        raise unreadable(exc, model_path) from exc
    if verify_digest:
        actual = file_digest(model_path)
        if actual != manifest.digest:
            raise ArtifactError(
                f"{model_path}: digest mismatch: manifest says {manifest.digest}, file has {actual}"
            )
    module = _LOADERS[manifest.format](model_path, manifest, device)
    return LoadedModel(module=module, manifest=manifest, path=root)


def _load_export(path: Path, manifest: Manifest, device: str) -> torch.nn.Module:
    try:
        program: Any = torch.export.load(str(path))
        if device != "cpu":
            # A submodule that `import torch` does not load: without this import the attribute is
            # missing on some torch versions, and every GPU load failed (seen on an H100, torch 2.11).
            from torch.export.passes import move_to_device_pass  # noqa: PLC0415

            program = move_to_device_pass(program, device)
        module: torch.nn.Module = program.module()
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot load torch.export program: {exc}") from exc
    return module


def _load_safetensors(path: Path, manifest: Manifest, device: str) -> torch.nn.Module:
    from safetensors.torch import load_file  # noqa: PLC0415 - only readers of this format need it

    name = manifest.architecture
    if name is None:
        raise ArtifactError(f"{path}: safetensors artifact names no architecture")
    factory = architectures.get(name)
    if factory is None:
        known = ", ".join(sorted(architectures)) or "none"
        raise ArtifactError(f"{path}: unknown architecture {name!r} (registered: {known})")
    try:
        model = factory(**manifest.architecture_args)
        state = load_file(str(path), device=device)
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot build {name} from its state_dict: {exc}") from exc
    return model.to(device).eval()


def _load_torchscript(path: Path, manifest: Manifest, device: str) -> torch.nn.Module:
    log.warning("%s: TorchScript artifacts are deprecated; re-save the model as torch-export", path)
    try:
        with warnings.catch_warnings():
            # The deprecation is reported once above; torch's own warning would repeat it per load.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=UserWarning)
            module: torch.nn.Module = torch.jit.load(  # type: ignore[no-untyped-call]
                str(path), map_location=device
            )
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot load TorchScript module: {exc}") from exc
    return module.eval()


_LOADERS = {
    "torch-export": _load_export,
    "safetensors": _load_safetensors,
    "torchscript": _load_torchscript,
}
