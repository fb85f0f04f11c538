"""Manifests for the CLI tests: TrainingJobs whose simulated workers exit with a given code."""

from __future__ import annotations

import json
from typing import Any

GROUP, VERSION = "lepton.ai", "v1alpha1"
DIGEST = "sha256:" + "ab" * 32
RESULT = json.dumps(
    {
        "metrics": {"loss": 0.25},
        "artifact": {"uri": "file:///models/m/v1", "digest": DIGEST, "format": "torch-export"},
    }
)


def job(name: str, exit_code: int, *, after: str = "2s", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    hooks = {"sim.lepton.ai/exit-code": str(exit_code), "sim.lepton.ai/exit-after": after}
    if exit_code == 0:
        hooks["sim.lepton.ai/termination-message"] = RESULT
    container = {
        "name": "trainer",
        "image": "lepton/trainer:test",
        "resources": {"limits": {"nvidia.com/gpu": 1}},
    }
    toleration = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"annotations": hooks},
                "spec": {"tolerations": [toleration], "containers": [container]},
            },
            **spec,
        },
    }
