"""Model artifacts for tests that run real `lepton-serve` processes: one that answers, one that fails
every real request (the version a rollout must roll back)."""

from __future__ import annotations

from pathlib import Path

import torch

from lepton.artifacts import MLPClassifier, save_artifact

# Positive input: the good model answers it; the bad one refuses it with a 500.
INPUT = {"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [1.0] * 16}]}


class Refuses(torch.nn.Module):
    """A model that fails on any positive input at inference time (its warm-up input is zeros): the
    version that answers 5xx."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert_async((x <= 0).all(), "this version fails on positive input")
        return x * 2


def artifact(root: Path, good: bool) -> Path:
    """The good or the bad model saved under ``root`` (once; later calls reuse it)."""
    directory = root / ("good" if good else "bad")
    if not (directory / "manifest.json").exists():
        torch.manual_seed(0)
        model = MLPClassifier(16, 32, 4) if good else Refuses()
        save_artifact(model, directory, example_input=torch.zeros(2, 16) - 1)
    return directory
