"""Manifests for the CLI tests: TrainingJobs whose simulated workers exit with a given code."""

from __future__ import annotations

import json
from typing import Any

from integration.trainingjob.tjkit import manifest

GROUP, VERSION = "lepton.ai", "v1alpha1"
DIGEST = "sha256:" + "ab" * 32
RESULT = json.dumps(
    {
        "metrics": {"loss": 0.25},
        "artifact": {"uri": "file:///models/m/v1", "digest": DIGEST, "format": "torch-export"},
    }
)


def job(name: str, exit_code: int, *, after: str = "2s", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    """The TrainingJob tests' manifest (one GPU a worker), its workers exiting with ``exit_code``."""
    hooks = {"sim.lepton.ai/exit-code": str(exit_code), "sim.lepton.ai/exit-after": after}
    if exit_code == 0:
        hooks["sim.lepton.ai/termination-message"] = RESULT
    return manifest(name, replicas=replicas, gpus=1, annotations=hooks, **spec)
