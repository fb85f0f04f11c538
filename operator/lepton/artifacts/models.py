"""Built-in architectures that ship with Lepton."""

from __future__ import annotations

import torch
from torch import nn

from lepton.artifacts.registry import register_architecture


@register_architecture("lepton.mlp-classifier")
class MLPClassifier(nn.Module):
    """A small multi-layer perceptron returning class logits; the built-in example trains it."""

    def __init__(self, in_features: int = 16, hidden: int = 64, num_classes: int = 4, depth: int = 2) -> None:
        super().__init__()
        self.in_features = in_features
        self.hidden = hidden
        self.num_classes = num_classes
        self.depth = depth
        layers: list[nn.Module] = []
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out

    def architecture_args(self) -> dict[str, int]:
        return {
            "in_features": self.in_features,
            "hidden": self.hidden,
            "num_classes": self.num_classes,
            "depth": self.depth,
        }
