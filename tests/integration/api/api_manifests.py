"""Minimal valid objects of each kind and a helper to derive invalid ones from them."""

from __future__ import annotations

import copy
from typing import Any

import yaml

DELETE = object()

TRAININGJOB: dict[str, Any] = {
    "apiVersion": "lepton.ai/v1alpha1",
    "kind": "TrainingJob",
    "metadata": {"name": "job"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "trainer",
                        "image": "lepton/trainer:dev",
                        "command": ["lepton-train", "-m", "lepton.runtime.examples.classifier"],
                    }
                ]
            }
        }
    },
}
MODELVERSION: dict[str, Any] = {
    "apiVersion": "lepton.ai/v1alpha1",
    "kind": "ModelVersion",
    "metadata": {"name": "classifier-v1"},
    "spec": {"model": "classifier", "version": "v1", "source": {"uri": "pvc://models/classifier/v1"}},
}
INFERENCESERVICE: dict[str, Any] = {
    "apiVersion": "lepton.ai/v1alpha1",
    "kind": "InferenceService",
    "metadata": {"name": "svc"},
    "spec": {"model": {"name": "classifier"}},
}


def derive(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of `base` with each dotted path in `changes` set (DELETE removes it); numbers index lists."""
    doc = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return doc


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False)
