"""A real worker pod deleted mid-training: the group restarts and resumes from the newest checkpoint."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from e2ekit import host_path_claim, real_training_job

from localcluster.config import Config
from support.wait import wait_for

# A module's first test also pays for its fixture: importing images into the node (GBs of torch
# when its layer changed) and a whole training run.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]


def job(namespace: str) -> dict[str, Any]:
    # Long enough to be interrupted: at least 40 epochs.
    command = ["lepton-train", "-m", "lepton.runtime.examples.classifier", "--epochs=80", "--min-epochs=40"]
    return real_training_job(
        "resume",
        namespace,
        command,
        mounts={"checkpoints": ""},
        checkpoint={"volume": "checkpoints", "path": "/checkpoints"},
        runPolicy={"backoffLimit": 3, "activeDeadlineSeconds": 900},
    )


def test_deleted_worker_resumes_from_newest_checkpoint(
    operator_running: None, e2e_cluster: Config, namespace: str, kubectl: Any
) -> None:
    folder = e2e_cluster.state_dir / "e2e" / f"ckpt-{uuid.uuid4().hex[:8]}"
    items = [*host_path_claim(namespace, "checkpoints", folder), job(namespace)]
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def epoch_reached() -> int | None:
        log = kubectl("logs", "-n", namespace, "resume-worker-0", check=False).stdout
        epochs = [int(e) for e in re.findall(r"epoch (\d+) loss", log)]
        return max(epochs) if epochs and max(epochs) >= 5 else None

    interrupted_at = wait_for(epoch_reached, timeout=300, what="worker 0 to train 5 epochs")
    kubectl("delete", "pod", "-n", namespace, "resume-worker-1", "--wait=false")

    def finished() -> dict[str, Any] | None:
        tj = json.loads(kubectl("get", "tj", "resume", "-n", namespace, "-o", "json").stdout)
        conditions = {c["type"]: c["status"] for c in tj.get("status", {}).get("conditions", [])}
        assert conditions.get("Failed") != "True", tj["status"]
        return tj if conditions.get("Succeeded") == "True" else None

    tj = wait_for(finished, timeout=600, what="TrainingJob resume to succeed after the restart")
    assert tj["status"]["restartCount"] >= 1
    log = kubectl("logs", "-n", namespace, "resume-worker-0").stdout
    resumed = re.search(r"resumed at epoch (\d+) \(restart attempt (\d+), world size 2\)", log)
    assert resumed, log[-2000:]
    assert int(resumed.group(1)) >= min(interrupted_at, 5) - 1
    assert int(resumed.group(2)) >= 1
