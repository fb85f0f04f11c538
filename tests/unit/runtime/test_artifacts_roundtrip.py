"""Artifacts written by save_artifact load back and predict the same, at any batch size."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from lepton.artifacts import (
    MANIFEST_FILE,
    ArtifactError,
    MLPClassifier,
    architectures,
    file_digest,
    load_artifact,
    save_artifact,
)


def _model() -> MLPClassifier:
    torch.manual_seed(0)
    return MLPClassifier(in_features=16, hidden=8, num_classes=4, depth=1).eval()


@pytest.mark.parametrize(
    ("fmt", "model_file"), [("torch-export", "model.pt2"), ("safetensors", "model.safetensors")]
)
def test_roundtrip_predicts_like_the_original(tmp_path: Path, fmt: str, model_file: str) -> None:
    model = _model()
    info = save_artifact(model, tmp_path, format=fmt, example_input=torch.randn(1, 16), metrics={"loss": 0.5})

    assert info.format == fmt
    assert info.uri == tmp_path.resolve().as_uri()
    assert info.digest == file_digest(tmp_path / model_file)
    assert info.size_bytes == (tmp_path / model_file).stat().st_size
    loaded = load_artifact(tmp_path)
    for batch in (1, 3, 17):
        x = torch.randn(batch, 16)
        with torch.no_grad():
            expected = model(x)
        torch.testing.assert_close(loaded.predict(x), expected)
    assert loaded.manifest.metrics == {"loss": 0.5}


def test_manifest_is_the_contract_shape(tmp_path: Path) -> None:
    save_artifact(_model(), tmp_path, format="safetensors", example_input=torch.randn(4, 16))
    raw = json.loads((tmp_path / MANIFEST_FILE).read_text())

    assert raw["format"] == "safetensors"
    assert raw["file"] == "model.safetensors"
    assert (
        raw["digest"] == "sha256:" + hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest()
    )
    assert raw["architecture"] == "lepton.mlp-classifier"
    assert raw["architectureArgs"] == {"in_features": 16, "hidden": 8, "num_classes": 4, "depth": 1}
    assert raw["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 16]}]
    assert raw["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 4]}]
    assert raw["framework"] == "pytorch"
    assert raw["torchVersion"] == torch.__version__


def test_export_manifest_has_no_architecture_and_custom_names(tmp_path: Path) -> None:
    save_artifact(
        _model(),
        tmp_path,
        example_input=torch.randn(2, 16),
        input_names=["features"],
        output_names=["logits"],
    )
    raw = json.loads((tmp_path / MANIFEST_FILE).read_text())

    assert raw["format"] == "torch-export"
    assert "architecture" not in raw
    assert raw["inputs"][0]["name"] == "features"
    assert raw["outputs"][0]["name"] == "logits"


def test_wrapped_model_is_saved_unwrapped(tmp_path: Path) -> None:
    model = _model()
    save_artifact(
        torch.nn.DataParallel(model), tmp_path, format="safetensors", example_input=torch.randn(2, 16)
    )

    loaded = load_artifact(tmp_path)
    assert isinstance(loaded.module, MLPClassifier)
    x = torch.randn(5, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded.predict(x), model(x))


def test_saving_leaves_the_callers_model_where_it_was(tmp_path: Path) -> None:
    model = _model().train()
    save_artifact(model, tmp_path, example_input=torch.randn(2, 16))
    assert model.training


def test_file_uri_loads(tmp_path: Path) -> None:
    info = save_artifact(_model(), tmp_path, example_input=torch.randn(2, 16))
    assert load_artifact(info.uri).manifest.digest == info.digest


def test_non_finite_metrics_are_dropped(tmp_path: Path) -> None:
    save_artifact(
        _model(),
        tmp_path,
        example_input=torch.randn(2, 16),
        metrics={"loss": float("nan"), "epoch": 3, "acc": torch.tensor(0.75)},
    )
    assert load_artifact(tmp_path).manifest.metrics == {"epoch": 3, "acc": 0.75}


class _Unregistered(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.lin(x)
        return out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "safetensors"}, "registered architecture"),
        ({"format": "torchscript"}, "cannot write format"),
        ({"format": "onnx"}, "cannot write format"),
        ({"example_input": None}, "needs example_input"),
        ({"input_names": ["a", "b"]}, "exactly one input"),
    ],
    ids=[
        "safetensors-unregistered",
        "torchscript-is-load-only",
        "unknown-format",
        "no-example",
        "two-inputs",
    ],
)
def test_save_refuses(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"example_input": torch.randn(2, 3), **kwargs}
    with pytest.raises(ArtifactError, match=message):
        save_artifact(_Unregistered(), tmp_path, **args)  # type: ignore[arg-type]


def test_builtin_classifier_is_registered() -> None:
    assert architectures["lepton.mlp-classifier"] is MLPClassifier
