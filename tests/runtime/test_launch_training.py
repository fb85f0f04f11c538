"""Two "pods" x two processes train the example to its target loss, under lepton-train and torchrun."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import EXAMPLE, LEPTON_TRAIN, TORCHRUN, Pods, design_pod_env, logs
from lepton.artifacts import file_digest, load_artifact
from lepton.runtime.examples.classifier import synthetic_dataset
from support.ports import free_port

pytestmark = pytest.mark.slow

TARGET = 0.1


@pytest.mark.parametrize("launcher", [LEPTON_TRAIN, TORCHRUN], ids=["lepton-train", "torchrun"])
def test_two_pods_reach_the_target_and_hand_over_a_loadable_model(
    pods: Pods, tmp_path: Path, launcher: str
) -> None:
    port = free_port()
    argv = [launcher, *EXAMPLE, "--target-loss", str(TARGET), "--epochs", "15"]
    group = [
        pods.start(
            f"worker-{i}",
            argv,
            design_pod_env(job="clf", replicas=2, nproc=2, index=i, port=port, root=tmp_path),
        )
        for i in range(2)
    ]

    codes = [pod.wait(timeout=300) for pod in group]

    assert codes == [0, 0], logs(*group)
    assert "starting at epoch 0 (world size 4" in group[0].output(), logs(*group)
    message = group[0].message()
    model_file = tmp_path / "output" / "model.pt2"
    assert message["artifact"] == {
        "uri": (tmp_path / "output").as_uri(),
        "digest": file_digest(model_file),
        "format": "torch-export",
    }
    assert message["metrics"]["loss"] <= TARGET
    assert message["metrics"]["epoch"] >= 1
    assert message["metrics"]["samples_per_second"] > 0
    # Every pod's first worker writes it: the operator finds it whichever pod rank 0 is in.
    assert group[1].message() == message

    loaded = load_artifact(message["artifact"]["uri"])
    assert loaded.manifest.digest == message["artifact"]["digest"]
    inputs, labels = synthetic_dataset(2048, 16, 4, seed=0).tensors
    accuracy = float((loaded.predict(inputs).argmax(1) == labels).float().mean())
    assert accuracy > 0.9
    assert torch.allclose(loaded.predict(inputs[:5]), loaded.predict(inputs)[:5], atol=1e-5)
