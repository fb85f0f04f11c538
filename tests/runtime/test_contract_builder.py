"""Contract: the pods the TrainingJob builder produces train the example as local processes.

Each pod's command runs with exactly that pod's environment; only the master address changes (to
127.0.0.1). The operator's own parser reads rank 0's termination message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import Pods, logs
from lepton.api import TrainingJob
from lepton.artifacts import file_digest, load_artifact
from lepton.builders.modelversion import parse_termination_message
from lepton.builders.workers import construct_worker_pod
from lepton.runtime.env import TERMINATION_GRACE_SECONDS
from lepton.runtime.examples.classifier import synthetic_dataset
from support.ports import free_port

pytestmark = pytest.mark.slow


def _job(root: Path, port: int) -> TrainingJob:
    return TrainingJob.model_validate(
        {
            "apiVersion": "lepton.ai/v1alpha1",
            "kind": "TrainingJob",
            "metadata": {"name": "clf", "namespace": "default", "uid": "0b5c7a1e-uid"},
            "spec": {
                "replicas": 2,
                "nprocPerNode": 2,
                "masterPort": port,
                "checkpoint": {"volume": "ckpt", "path": str(root / "checkpoints")},
                "output": {
                    "model": "classifier",
                    "uri": (root / "output").as_uri(),
                    "format": "torch-export",
                },
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "trainer",
                                "image": "lepton/trainer:dev",
                                "command": ["lepton-train", "-m", "lepton.runtime.examples.classifier"],
                                "args": ["--target-loss", "0.1"],
                            }
                        ],
                        "volumes": [{"name": "ckpt", "emptyDir": {}}],
                    }
                },
            },
        }
    )


def _trainer(pod: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod["spec"]["containers"]
    return next(c for c in containers if c["name"] == "trainer")


def test_builder_pods_train_and_report_a_model(pods: Pods, tmp_path: Path) -> None:
    job = _job(tmp_path, free_port())
    group = []
    for index in range(job.spec.replicas):
        container = _trainer(construct_worker_pod(job, index, attempt=0))
        env = {e["name"]: e["value"] for e in container["env"]}
        env["MASTER_ADDR"] = env["PET_MASTER_ADDR"] = "127.0.0.1"
        group.append(pods.start(f"clf-worker-{index}", container["command"] + container.get("args", []), env))

    assert [pod.wait(timeout=300) for pod in group] == [0, 0], logs(*group)

    result = parse_termination_message(group[0].termination_log.read_text())
    assert result.artifact == {
        "uri": (tmp_path / "output").as_uri(),
        "digest": file_digest(tmp_path / "output" / "model.pt2"),
        "format": "torch-export",
    }
    assert result.metrics["loss"] <= 0.1
    loaded = load_artifact(result.artifact["uri"])
    inputs, labels = synthetic_dataset(2048, 16, 4, seed=0).tensors
    assert float((loaded.predict(inputs).argmax(1) == labels).float().mean()) > 0.9


def test_builder_pods_tell_the_launcher_their_grace_period(tmp_path: Path) -> None:
    # Without it lepton-train leaves torchelastic's 30 s, whatever runPolicy grants.
    pod = construct_worker_pod(_job(tmp_path, free_port()), 0, attempt=0)
    env = {e["name"]: e["value"] for e in _trainer(pod)["env"]}
    assert env.get(TERMINATION_GRACE_SECONDS) == str(pod["spec"]["terminationGracePeriodSeconds"])
