"""load_artifact refuses what it cannot trust, with a message that says why."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lepton.artifacts import (
    MANIFEST_FILE,
    ArtifactError,
    MLPClassifier,
    file_digest,
    load_artifact,
    register_architecture,
    save_artifact,
)


def _saved(tmp_path: Path, fmt: str = "safetensors") -> Path:
    torch.manual_seed(0)
    save_artifact(MLPClassifier(16, 8, 4, 1), tmp_path, format=fmt, example_input=torch.randn(2, 16))
    return tmp_path


def _edit_manifest(**changes: object) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        raw = json.loads((root / MANIFEST_FILE).read_text())
        raw.update(changes)
        (root / MANIFEST_FILE).write_text(json.dumps(raw))

    return edit


def _flip_a_byte(root: Path) -> None:
    path = root / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


CASES: dict[str, tuple[Callable[[Path], object], str]] = {
    "no-manifest": (lambda root: (root / MANIFEST_FILE).unlink(), "no manifest.json"),
    "manifest-not-json": (lambda root: (root / MANIFEST_FILE).write_text("{"), "invalid manifest"),
    "model-file-missing": (lambda root: (root / "model.safetensors").unlink(), "is missing"),
    "digest-mismatch": (_flip_a_byte, "digest mismatch"),
    "unknown-architecture": (_edit_manifest(architecture="acme.nope"), "unknown architecture 'acme.nope'"),
    "unknown-format": (_edit_manifest(format="onnx"), "invalid manifest"),
    "file-escapes-directory": (_edit_manifest(file="../model.safetensors"), "not a plain file name"),
    "wrong-architecture-args": (_edit_manifest(architectureArgs={"in_features": 3}), "cannot build"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_load_refuses(tmp_path: Path, case: tuple[Callable[[Path], object], str]) -> None:
    damage, message = case
    root = _saved(tmp_path)
    damage(root)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(root)


def test_missing_directory_is_an_artifact_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"no manifest\.json"):
        load_artifact(tmp_path / "absent")


def test_remote_uri_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="only local paths"):
        load_artifact("s3://bucket/model")


def test_digest_check_can_be_skipped(tmp_path: Path) -> None:
    root = _saved(tmp_path, fmt="torch-export")
    _edit_manifest(digest="sha256:" + "0" * 64)(root)
    with pytest.raises(ArtifactError, match="digest mismatch"):
        load_artifact(root)
    assert load_artifact(root, verify_digest=False).predict(torch.randn(3, 16)).shape == (3, 4)


def test_corrupt_export_is_an_artifact_error(tmp_path: Path) -> None:
    root = _saved(tmp_path, fmt="torch-export")
    (root / "model.pt2").write_bytes(b"not a zip")
    _edit_manifest(digest=file_digest(root / "model.pt2"))(root)
    with pytest.raises(ArtifactError, match=r"cannot load torch\.export program"):
        load_artifact(root)


def test_old_torchscript_artifacts_still_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MLPClassifier(16, 8, 4, 1).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated; this test plays an old trainer
        traced = torch.jit.trace(model, torch.randn(2, 16))  # type: ignore[no-untyped-call]
        torch.jit.save(traced, str(tmp_path / "model.ts"))
    manifest = {
        "format": "torchscript",
        "file": "model.ts",
        "digest": file_digest(tmp_path / "model.ts"),
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 16]}],
        "outputs": [{"name": "output", "datatype": "FP32", "shape": [-1, 4]}],
    }
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))

    loaded = load_artifact(tmp_path)
    x = torch.randn(3, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded.predict(x), model(x))
    assert loaded.manifest.format == "torchscript"


def test_registering_a_taken_name_fails() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register_architecture("lepton.mlp-classifier")
        class Other(torch.nn.Module):
            pass


def test_file_digest_streams_large_files(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"a" * (3 << 20))
    import hashlib

    assert file_digest(path) == "sha256:" + hashlib.sha256(b"a" * (3 << 20)).hexdigest()


@pytest.mark.parametrize(
    ("fmt", "file"), [("safetensors", "model.safetensors"), ("torch-export", "model.pt2")]
)
def test_a_truncated_artifact_is_an_artifact_error_digest_or_not(tmp_path: Path, fmt: str, file: str) -> None:
    """A copy cut short (a full disk, an interrupted upload): with the recorded digest it is a digest
    mismatch; recorded again with the short file's own digest, it still fails to load, never loads
    half a model."""
    root = _saved(tmp_path, fmt=fmt)
    path = root / file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="digest mismatch"):
        load_artifact(root)
    _edit_manifest(digest=file_digest(path))(root)
    with pytest.raises(ArtifactError, match=r"cannot (load|build)"):
        load_artifact(root)
